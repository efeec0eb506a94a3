/**
 * Helpers for the webhook tests: AdmissionReview fixtures, a real JSON Patch
 * implementation to apply the webhook's patches, and checks that a pod is
 * one kube-apiserver would accept.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import jsonpatch from "fast-json-patch";
import { Pod } from "kubernetes-models/v1";
import type { AdmissionReview, AdmissionReviewResponse } from "../../src/core/admission_review.ts";

/** Directory of the AdmissionReview fixtures. */
export const FIXTURES = fileURLToPath(new URL("../fixtures/admission/", import.meta.url));

/** The `CorefileDir` the tests configure (the default one). */
export const COREFILE_DIR = "/data/coredog-system/dumps";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Reads a fixture as text, exactly as committed. */
export async function fixtureText(name: string): Promise<string> {
  return await Deno.readTextFile(`${FIXTURES}${name}`);
}

/** Reads a fixture as an AdmissionReview. */
export async function loadReview(name: string): Promise<AdmissionReview> {
  return JSON.parse(await fixtureText(name));
}

/** The pod inside a review, as a plain object. */
export function podOf(review: AdmissionReview): Json {
  return review.request.object as Json;
}

/** A copy of `review` carrying `pod` instead (the second pass, as on reinvocation). */
export function withPod(review: AdmissionReview, pod: unknown): AdmissionReview {
  return {
    ...review,
    request: { ...review.request, uid: `${review.request.uid}-again`, object: structuredClone(pod) },
  };
}

/** The JSON Patch operations of a response, decoded from base64; [] when there is none. */
export function patchOf(response: AdmissionReviewResponse): Json[] {
  if (response.response.patch === undefined) return [];
  assert.equal(response.response.patchType, "JSONPatch");
  const bytes = Uint8Array.from(atob(response.response.patch), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/**
 * Applies `operations` to a copy of `pod` with fast-json-patch, which
 * throws on any operation that does not apply (RFC 6902 semantics).
 */
export function applyPatch(pod: unknown, operations: Json[]): Json {
  const errors = jsonpatch.validate(operations, structuredClone(pod));
  assert.equal(errors, undefined, `the patch does not apply: ${errors?.message}`);
  return jsonpatch.applyPatch(structuredClone(pod), operations, true, false).newDocument;
}

/**
 * Asserts that `pod` is a valid v1 Pod (kubernetes-models' schema) and
 * passes the apiserver's checks that a schema cannot express.
 */
export function assertAcceptablePod(pod: Json): void {
  new Pod(pod).validate();
  const volumes: Json[] = pod.spec.volumes ?? [];
  const volumeNames = volumes.map((v) => v.name);
  assert.equal(new Set(volumeNames).size, volumeNames.length, `duplicate volume names: ${volumeNames}`);
  for (const container of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    const mounts: Json[] = container.volumeMounts ?? [];
    const paths = mounts.map((m) => m.mountPath);
    assert.equal(new Set(paths).size, paths.length, `container ${container.name} mounts a path twice: ${paths}`);
    const envNames = new Set((container.env ?? []).map((e: Json) => e.name));
    for (const mount of mounts) {
      assert.ok(volumeNames.includes(mount.name), `container ${container.name} mounts unknown volume ${mount.name}`);
      assert.ok(!(mount.subPath && mount.subPathExpr), "subPath and subPathExpr are mutually exclusive");
      for (const [, name] of String(mount.subPathExpr ?? "").matchAll(/\$\(([^)]+)\)/g)) {
        // The kubelet refuses to start a container whose subPathExpr names an undefined variable.
        assert.ok(envNames.has(name), `container ${container.name} uses $(${name}) without defining it`);
      }
    }
  }
}

/** `{ container: subPathExpr }` of the CoreDog mounts at `mountPath`, for app and init containers. */
export function coredogMounts(pod: Json, mountPath: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const container of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    for (const mount of container.volumeMounts ?? []) {
      if (mount.name === "coredog-corefile") {
        assert.equal(mount.mountPath, mountPath, `container ${container.name} mounts CorefileDir elsewhere`);
        found[container.name] = mount.subPathExpr;
      }
    }
  }
  return found;
}

/** Asserts the pod-level parts of an injection: one hostPath volume on CorefileDir, and the annotation. */
export function assertInjectedPod(pod: Json, containers: string[]): void {
  const ours = (pod.spec.volumes ?? []).filter((v: Json) => v.name === "coredog-corefile");
  assert.deepEqual(ours, [{ name: "coredog-corefile", hostPath: { path: COREFILE_DIR, type: "DirectoryOrCreate" } }]);
  assert.equal(pod.metadata.annotations["coredog.io/injected"], containers.join(","));
  for (const container of pod.spec.containers) {
    const env = (container.env ?? []).filter((e: Json) => e.name === "COREDOG_POD_NAME");
    if (containers.includes(container.name)) {
      assert.deepEqual(env, [{
        name: "COREDOG_POD_NAME",
        valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
      }]);
    } else {
      assert.deepEqual(env, [], `container ${container.name} was not selected but got COREDOG_POD_NAME`);
    }
  }
}
