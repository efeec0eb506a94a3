/**
 * The JSON Patch that gives a pod its dump directories.
 *
 * One hostPath volume `coredog-corefile` on CorefileDir, and in each
 * selected container an env var `COREDOG_POD_NAME` (downward API) and a
 * volumeMount with `subPathExpr: <namespace>/$(COREDOG_POD_NAME)/<container>`.
 * A controller-made pod has no name during admission, so the per-pod
 * directory cannot be spelt out here: the kubelet expands the env var when
 * the container starts, and creates the directory.
 *
 * The patch is built against what the pod already has, so it applies
 * whether `volumes`, `volumeMounts`, `env` or `annotations` exist or not,
 * and a second pass over the patched pod finds nothing to do. Anything the
 * apiserver would reject (a second volume of the same name, two mounts at
 * one path, a pod-name variable that means something else) makes the
 * container, or the whole pod, sit out with a warning instead.
 *
 * Pure.
 *
 * @module
 */

import { isDnsLabel } from "./dump_path.ts";
import { appendOperation, type JsonPatchOperation, pointerToken } from "./json_patch.ts";
import {
  type AdmissionContainer,
  type AdmissionPod,
  clipWarning,
  INJECTED_ANNOTATION,
  normaliseMountPath,
  type SkipReason,
} from "./injection_rules.ts";

/** Name of the injected hostPath volume. */
const VOLUME_NAME = "coredog-corefile";
/** Env var that carries the pod name into `subPathExpr`. */
const POD_NAME_ENV = "COREDOG_POD_NAME";

/** What to inject, from the rules and the configuration. */
export interface PatchPlan {
  /** The pod's namespace (`request.namespace`). */
  namespace: string;
  /** `CorefileDir`, the directory on the node. */
  corefileDir: string;
  /** Normalised mount path from `coredog.io/path`. */
  mountPath: string;
  /** App containers to inject. */
  containers: string[];
}

/** The patch and what it does. */
export interface PodPatch {
  /** Empty when there is nothing to do. */
  operations: JsonPatchOperation[];
  /** Containers that have the dump directory once the patch is applied. */
  injected: string[];
  /** Set when the pod gets nothing: why. */
  skipped?: { reason: SkipReason; detail: string };
  warnings: string[];
}

/**
 * `<namespace>/$(COREDOG_POD_NAME)/<container>`, the dump directory of one
 * container relative to CorefileDir, as the watcher expects it.
 */
export function subPathExpr(namespace: string, container: string): string {
  return `${namespace}/$(${POD_NAME_ENV})/${container}`;
}

/**
 * Problems with CorefileDir as a hostPath (the apiserver rejects `..`
 * in hostPath paths), or undefined when it is usable.
 */
export function corefileDirProblem(root: string): string | undefined {
  if (!root.startsWith("/")) return `CorefileDir ${root} must be an absolute path`;
  if (root.split("/").includes("..")) return `CorefileDir ${root} must not contain ".."`;
  if (normaliseMountPath(root) === "/") return "CorefileDir must not be /";
  return undefined;
}

/** Builds the patch that injects `plan` into `pod`. */
export function buildPodPatch(pod: AdmissionPod, plan: PatchPlan): PodPatch {
  const spec = pod.spec ?? {};
  const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
  const existing = volumes.find((v) => v?.name === VOLUME_NAME);
  if (existing && !isOurVolume(existing, plan.corefileDir)) {
    const detail = `the pod already has a volume named ${VOLUME_NAME} that is not CoreDog's`;
    return nothing({ reason: "volume-conflict", detail }, [clipWarning(`not injected: ${detail}`)]);
  }

  const containerOps: JsonPatchOperation[] = [];
  const injected: string[] = [];
  const warnings: string[] = [];
  const containers = spec.containers ?? [];
  containers.forEach((container, index) => {
    if (!container?.name || !plan.containers.includes(container.name)) return;
    const result = containerPatch(container, `/spec/containers/${index}`, plan);
    if ("conflict" in result) {
      warnings.push(clipWarning(`container "${container.name}" not injected: ${result.conflict}`));
      return;
    }
    injected.push(container.name);
    containerOps.push(...result.operations);
  });
  if (injected.length === 0) {
    const detail = `every selected container already uses ${plan.mountPath} or ${POD_NAME_ENV}`;
    return nothing({ reason: "mount-conflict", detail }, warnings);
  }

  const operations: JsonPatchOperation[] = [];
  if (!existing) {
    operations.push(appendOperation("/spec/volumes", volume(plan.corefileDir), { existing: spec.volumes }));
  }
  operations.push(...containerOps);
  operations.push(...annotationOperations(pod, injected.join(",")));
  if (operations.length === 0) {
    return nothing({ reason: "already-injected", detail: "already injected" }, warnings, injected);
  }
  return { operations, injected, warnings };
}

type ContainerResult = { operations: JsonPatchOperation[] } | { conflict: string };

function containerPatch(container: AdmissionContainer, at: string, plan: PatchPlan): ContainerResult {
  // The name becomes a directory under CorefileDir: a name such as
  // "../x" (which the apiserver would reject anyway) must not reach the path.
  if (!isDnsLabel(container.name!)) return { conflict: "its name is not a valid container name" };
  const expr = subPathExpr(plan.namespace, container.name!);
  const mounts = Array.isArray(container.volumeMounts) ? container.volumeMounts : [];
  const atPath = mounts.filter((m) => typeof m?.mountPath === "string" && samePath(m.mountPath, plan.mountPath));
  const ours = atPath.length === 1 && atPath[0].name === VOLUME_NAME && atPath[0].subPathExpr === expr &&
    !atPath[0].subPath;
  if (atPath.length > 0 && !ours) return { conflict: `it already mounts ${plan.mountPath}` };
  const devices = Array.isArray(container.volumeDevices) ? container.volumeDevices : [];
  if (devices.some((d) => typeof d?.devicePath === "string" && samePath(d.devicePath, plan.mountPath))) {
    return { conflict: `it already has a device at ${plan.mountPath}` };
  }
  const env = Array.isArray(container.env) ? container.env : [];
  const named = env.filter((e) => e?.name === POD_NAME_ENV);
  // Any other meaning of the variable would send cores to a wrong directory.
  if (named.some((e) => e.value !== undefined || e.valueFrom?.fieldRef?.fieldPath !== "metadata.name")) {
    return { conflict: `it sets ${POD_NAME_ENV} to something other than the pod name` };
  }
  const operations: JsonPatchOperation[] = [];
  if (named.length === 0) operations.push(appendOperation(`${at}/env`, podNameEnv(), { existing: container.env }));
  if (!ours) {
    operations.push(
      appendOperation(`${at}/volumeMounts`, { name: VOLUME_NAME, mountPath: plan.mountPath, subPathExpr: expr }, {
        existing: container.volumeMounts,
      }),
    );
  }
  return { operations };
}

function annotationOperations(pod: AdmissionPod, value: string): JsonPatchOperation[] {
  const metadata = pod.metadata;
  if (!metadata) return [{ op: "add", path: "/metadata", value: { annotations: { [INJECTED_ANNOTATION]: value } } }];
  const annotations = metadata.annotations;
  if (!annotations) return [{ op: "add", path: "/metadata/annotations", value: { [INJECTED_ANNOTATION]: value } }];
  if (annotations[INJECTED_ANNOTATION] === value) return [];
  // `add` on an existing member replaces it (RFC 6902 4.1), so this also corrects a stale value.
  return [{ op: "add", path: `/metadata/annotations/${pointerToken(INJECTED_ANNOTATION)}`, value }];
}

function isOurVolume(volume: { hostPath?: { path?: string } }, corefileDir: string): boolean {
  const path = volume.hostPath?.path;
  return typeof path === "string" && samePath(path, corefileDir);
}

function samePath(a: string, b: string): boolean {
  return normaliseMountPath(a) === normaliseMountPath(b);
}

function volume(corefileDir: string): unknown {
  return { name: VOLUME_NAME, hostPath: { path: corefileDir, type: "DirectoryOrCreate" } };
}

function podNameEnv(): unknown {
  return { name: POD_NAME_ENV, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } };
}

function nothing(
  skipped: { reason: SkipReason; detail: string },
  warnings: string[],
  injected: string[] = [],
): PodPatch {
  return { operations: [], injected, skipped, warnings };
}
