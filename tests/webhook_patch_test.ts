import assert from "node:assert/strict";
import {
  admissionResponse,
  type AdmissionReview,
  encodePatch,
  parseAdmissionReview,
} from "../src/core/admission_review.ts";
import { pointerToken } from "../src/core/json_patch.ts";
import type { AdmissionPod } from "../src/core/injection_rules.ts";
import { mutateAdmission } from "../src/core/pod_mutation.ts";
import { buildPodPatch, corefileDirProblem } from "../src/core/pod_patch.ts";
import {
  applyPatch,
  assertAcceptablePod,
  assertInjectedPod,
  coredogMounts,
  COREFILE_DIR,
  fixtureText,
  loadReview,
  patchOf,
  podOf,
  withPod,
} from "./support/admission.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Runs a fixture through the webhook's decision, applies the patch to the
 * original pod with a real JSON Patch implementation, checks the result is
 * a pod the apiserver accepts with the dump directory in exactly
 * `containers`, and that a second pass over it changes nothing.
 */
async function injectFixture(name: string, expected: { containers: string[]; mountPath: string }): Promise<Json> {
  const review = await loadReview(name);
  const { response, outcome } = mutateAdmission(review, { corefileDir: COREFILE_DIR });
  assert.equal(outcome.kind, "injected", JSON.stringify(outcome));
  assert.equal(response.response.uid, review.request.uid);
  assert.equal(response.response.allowed, true);
  const original = podOf(review);
  const patched = applyPatch(original, patchOf(response));
  assertAcceptablePod(patched);
  assertInjectedPod(patched, expected.containers);
  const namespace = review.request.namespace;
  assert.deepEqual(
    coredogMounts(patched, expected.mountPath),
    Object.fromEntries(expected.containers.map((c) => [c, `${namespace}/$(COREDOG_POD_NAME)/${c}`])),
  );
  const again = mutateAdmission(withPod(review, patched), { corefileDir: COREFILE_DIR });
  assert.equal(again.response.response.patch, undefined, "a second pass must not patch again");
  assert.equal(again.outcome.kind, "skipped");
  assert.equal(again.outcome.kind === "skipped" && again.outcome.reason, "already-injected");
  assert.deepEqual(applyPatch(patched, patchOf(again.response)), patched);
  return { review, original, patched, response };
}

Deno.test("a Deployment's pod (generateName, no volumes, no env) gets a per-pod, per-container dump directory", async () => {
  const { original, patched, response } = await injectFixture("deployment_pod.json", {
    containers: ["app"],
    mountPath: "/corefile",
  });
  assert.equal(original.metadata.name, undefined, "the fixture is a pod without a name, as controllers create them");
  assert.equal(original.spec.volumes, undefined);
  assert.equal(original.spec.automountServiceAccountToken, false);
  assert.deepEqual(patched.spec.containers[0].volumeMounts, [
    { name: "coredog-corefile", mountPath: "/corefile", subPathExpr: "team-a/$(COREDOG_POD_NAME)/app" },
  ]);
  assert.deepEqual(response.response.warnings, undefined);
  // Everything the pod had is still there.
  assert.deepEqual({ ...patched.spec, volumes: undefined, containers: undefined }, {
    ...original.spec,
    volumes: undefined,
    containers: undefined,
  });
  assert.deepEqual(patched.spec.containers[0].command, original.spec.containers[0].command);
});

Deno.test("a pod with volumes, mounts and env keeps them all and gains the dump directory", async () => {
  const { original, patched } = await injectFixture("existing_volumes.json", {
    containers: ["app"],
    mountPath: "/data/dumps",
  });
  const app = patched.spec.containers[0];
  assert.deepEqual(app.env.slice(0, 2), original.spec.containers[0].env);
  assert.deepEqual(app.volumeMounts.slice(0, 3), original.spec.containers[0].volumeMounts);
  assert.deepEqual(patched.spec.volumes.slice(0, 3), original.spec.volumes);
  assert.equal(patched.spec.volumes.length, 4);
  // Other annotations, including ones with a slash in the key, are untouched.
  assert.equal(
    patched.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"],
    original.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"],
  );
});

Deno.test('coredog.io/container "app, worker" injects exactly app and worker of four containers', async () => {
  const { patched } = await injectFixture("four_containers.json", {
    containers: ["app", "worker"],
    mountPath: "/corefile",
  });
  for (const name of ["nginx", "metrics"]) {
    const container = patched.spec.containers.find((c: Json) => c.name === name);
    assert.equal(container.volumeMounts.length, 1, `${name} keeps only its service-account mount`);
    assert.equal(container.env, undefined);
  }
});

Deno.test("init containers are left exactly as they were", async () => {
  const { original, patched } = await injectFixture("init_container.json", {
    containers: ["api"],
    mountPath: "/corefile",
  });
  assert.deepEqual(patched.spec.initContainers, original.spec.initContainers);
});

Deno.test("a container that already mounts the path sits out with a warning; the other is injected", async () => {
  const { original, patched, response } = await injectFixture("mount_clash.json", {
    containers: ["worker"],
    mountPath: "/corefile",
  });
  assert.deepEqual(patched.spec.containers[0], original.spec.containers[0]);
  assert.deepEqual(response.response.warnings, ['coredog: container "app" not injected: it already mounts /corefile']);
});

Deno.test("an already injected pod gets no patch", async () => {
  const review = await loadReview("already_injected.json");
  const { response, outcome } = mutateAdmission(review, { corefileDir: COREFILE_DIR });
  assert.deepEqual(response, {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid: review.request.uid, allowed: true },
  });
  assert.equal(
    outcome.kind === "skipped" && outcome.message,
    "Skip injection for pod team-a/web-7d9f8b6c5d-* - Reason: already injected",
  );
});

Deno.test("pods that cannot be injected are allowed unchanged, with the seed's log line and a warning", async () => {
  const cases: [string, string, string[]][] = [
    [
      "missing_path.json",
      "Skip injection for pod default/my-pod-* - Reason: annotation coredog.io/path is required but not set",
      [
        "coredog: not injected: annotation coredog.io/path is required but not set",
      ],
    ],
    [
      "not_opted_in.json",
      "Skip injection for pod team-a/web-7d9f8b6c5d-* - Reason: annotation coredog.io/inject is not set",
      [],
    ],
    [
      "relative_path.json",
      'Skip injection for pod team-a/web-7d9f8b6c5d-* - Reason: coredog.io/path "corefile" must be an absolute path such as /corefile',
      ['coredog: not injected: coredog.io/path "corefile" must be an absolute path such as /corefile'],
    ],
    [
      "traversal_path.json",
      'Skip injection for pod team-a/web-7d9f8b6c5d-* - Reason: coredog.io/path "/etc/../etc" must not contain ".."',
      ['coredog: not injected: coredog.io/path "/etc/../etc" must not contain ".."'],
    ],
    [
      "dangerous_path.json",
      'Skip injection for pod team-a/web-7d9f8b6c5d-* - Reason: coredog.io/path "//etc/" is the system path /etc',
      ['coredog: not injected: coredog.io/path "//etc/" is the system path /etc'],
    ],
    [
      "foreign_volume.json",
      "Skip injection for pod team-a/web-7d9f8b6c5d-* - Reason: the pod already has a volume named coredog-corefile that is not CoreDog's",
      ["coredog: not injected: the pod already has a volume named coredog-corefile that is not CoreDog's"],
    ],
  ];
  for (const [name, message, warnings] of cases) {
    const review = await loadReview(name);
    const { response, outcome } = mutateAdmission(review, { corefileDir: COREFILE_DIR });
    assert.equal(response.response.allowed, true, name);
    assert.equal(response.response.uid, review.request.uid, name);
    assert.equal(response.response.patch, undefined, name);
    assert.equal(response.response.patchType, undefined, name);
    assert.equal(outcome.kind === "skipped" && outcome.message, message, name);
    assert.deepEqual(response.response.warnings ?? [], warnings, name);
  }
});

Deno.test("anything but a Pod CREATE is allowed with no patch", async () => {
  const configMap = await loadReview("configmap_create.json");
  assert.deepEqual(mutateAdmission(configMap, { corefileDir: COREFILE_DIR }).response.response, {
    uid: configMap.request.uid,
    allowed: true,
  });
  const pod = await loadReview("deployment_pod.json");
  const variants: Partial<AdmissionReview["request"]>[] = [
    { operation: "UPDATE" },
    { operation: "DELETE" },
    { subResource: "ephemeralcontainers", operation: "UPDATE" },
    { subResource: "binding" },
    { resource: { group: "apps", version: "v1", resource: "pods" } },
  ];
  for (const change of variants) {
    const review = { ...pod, request: { ...pod.request, ...change } };
    const { response, outcome } = mutateAdmission(review, { corefileDir: COREFILE_DIR });
    assert.equal(outcome.kind, "ignored", JSON.stringify(change));
    assert.equal(response.response.patch, undefined);
  }
});

/** Builds pods that differ in which lists and maps exist, to show the patch applies to each. */
function shapes(): { label: string; pod: Json }[] {
  const results: { label: string; pod: Json }[] = [];
  const volumeShapes: Record<string, unknown> = {
    "no volumes": undefined,
    "null volumes": null,
    "empty volumes": [],
    "a volume": [{ name: "data", emptyDir: {} }],
  };
  const containerShapes: Record<string, Json> = {
    "bare container": {},
    "empty env and mounts": { env: [], volumeMounts: [] },
    "null env and mounts": { env: null, volumeMounts: null },
    "env and mounts": { env: [{ name: "A", value: "1" }], volumeMounts: [{ name: "data", mountPath: "/data" }] },
  };
  const annotationShapes: Record<string, Json> = {
    "opt-in annotations": { "coredog.io/inject": "true", "coredog.io/path": "/corefile" },
    "a stale injected annotation": {
      "coredog.io/inject": "true",
      "coredog.io/path": "/corefile",
      "coredog.io/injected": "old",
    },
  };
  for (const [v, volumes] of Object.entries(volumeShapes)) {
    for (const [c, container] of Object.entries(containerShapes)) {
      for (const [a, annotations] of Object.entries(annotationShapes)) {
        const needsData = (container.volumeMounts ?? []).length > 0;
        const withData = needsData && !(Array.isArray(volumes) && volumes.length > 0)
          ? [{ name: "data", emptyDir: {} }]
          : volumes;
        const spec: Json = { containers: [{ name: "app", image: "busybox", ...structuredClone(container) }] };
        if (withData !== undefined) spec.volumes = structuredClone(withData);
        results.push({
          label: `${v}, ${c}, ${a}`,
          pod: { apiVersion: "v1", kind: "Pod", metadata: { generateName: "w-", annotations }, spec },
        });
      }
    }
  }
  return results;
}

Deno.test("the patch applies whatever lists the pod already has, and a second pass is a no-op", () => {
  for (const { label, pod } of shapes()) {
    const review: AdmissionReview = {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: "u",
        resource: { group: "", version: "v1", resource: "pods" },
        operation: "CREATE",
        namespace: "ns",
        object: pod,
      },
    };
    const first = mutateAdmission(review, { corefileDir: COREFILE_DIR });
    assert.equal(first.outcome.kind, "injected", label);
    const patched = applyPatch(pod, patchOf(first.response));
    assertAcceptablePod(patched);
    assertInjectedPod(patched, ["app"]);
    assert.deepEqual(coredogMounts(patched, "/corefile"), { app: "ns/$(COREDOG_POD_NAME)/app" }, label);
    const second = mutateAdmission(withPod(review, patched), { corefileDir: COREFILE_DIR });
    assert.equal(second.response.response.patch, undefined, label);
  }
});

Deno.test("a pod with no annotations map or no metadata at all still gets a valid patch", () => {
  const plan = { namespace: "ns", corefileDir: COREFILE_DIR, mountPath: "/corefile", containers: ["app"] };
  const pods: Json[] = [
    { apiVersion: "v1", kind: "Pod", metadata: { generateName: "w-" }, spec: { containers: [{ name: "app" }] } },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "w", annotations: null },
      spec: { containers: [{ name: "app" }] },
    },
    { apiVersion: "v1", kind: "Pod", spec: { containers: [{ name: "app" }] } },
  ];
  for (const pod of pods) {
    const patch = buildPodPatch(pod, plan);
    const patched = applyPatch(pod, patch.operations);
    assertAcceptablePod(patched);
    assert.equal(patched.metadata.annotations["coredog.io/injected"], "app");
    assert.deepEqual(buildPodPatch(patched, plan).operations, []);
  }
});

Deno.test("a container that defines COREDOG_POD_NAME otherwise is not injected; the pod-name fieldRef is reused", () => {
  const plan = {
    namespace: "ns",
    corefileDir: COREFILE_DIR,
    mountPath: "/corefile",
    containers: ["app", "job", "web"],
  };
  const pod: Json = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "w-" },
    spec: {
      containers: [
        { name: "app", env: [{ name: "COREDOG_POD_NAME", value: "fixed" }] },
        { name: "job", env: [{ name: "COREDOG_POD_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }] },
        { name: "web", env: [{ name: "COREDOG_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }] },
      ],
    },
  };
  const patch = buildPodPatch(pod, plan);
  assert.deepEqual(patch.injected, ["web"]);
  assert.deepEqual(patch.warnings, [
    'coredog: container "app" not injected: it sets COREDOG_POD_NAME to something other than the pod name',
    'coredog: container "job" not injected: it sets COREDOG_POD_NAME to something other than the pod name',
  ]);
  const patched = applyPatch(pod, patch.operations);
  assertAcceptablePod(patched);
  assert.equal(patched.spec.containers[2].env.length, 1, "the existing fieldRef is reused, not duplicated");
  assert.deepEqual(coredogMounts(patched, "/corefile"), { web: "ns/$(COREDOG_POD_NAME)/web" });
});

Deno.test("when every selected container clashes, nothing is added, not even the volume", () => {
  const pod: AdmissionPod = {
    spec: {
      containers: [{ name: "app", volumeMounts: [{ name: "x", mountPath: "/corefile" }] }],
      volumes: [{ name: "x" }],
    },
  };
  const patch = buildPodPatch(pod, {
    namespace: "ns",
    corefileDir: COREFILE_DIR,
    mountPath: "/corefile",
    containers: ["app"],
  });
  assert.deepEqual(patch.operations, []);
  assert.equal(patch.skipped?.reason, "mount-conflict");
  const device = buildPodPatch(
    { spec: { containers: [{ name: "app", volumeDevices: [{ name: "blk", devicePath: "/corefile" }] }] } },
    { namespace: "ns", corefileDir: COREFILE_DIR, mountPath: "/corefile", containers: ["app"] },
  );
  assert.deepEqual(device.operations, []);
  assert.deepEqual(device.warnings, ['coredog: container "app" not injected: it already has a device at /corefile']);
});

Deno.test("CorefileDir the apiserver would refuse as a hostPath is reported", () => {
  assert.equal(corefileDirProblem("/data/coredog-system/dumps"), undefined);
  assert.match(corefileDirProblem("data/dumps") ?? "", /absolute/);
  assert.match(corefileDirProblem("/data/../dumps") ?? "", /\.\./);
  assert.match(corefileDirProblem("//") ?? "", /must not be \//);
});

Deno.test("JSON Pointer keys escape ~ before /", () => {
  assert.equal(pointerToken("coredog.io/injected"), "coredog.io~1injected");
  assert.equal(pointerToken("a~1/b"), "a~01~1b");
});

Deno.test("the response echoes the uid and carries the patch as base64 JSON", async () => {
  const review = await loadReview("deployment_pod.json");
  const operations = [{ op: "add" as const, path: "/metadata/annotations/x", value: "é ✓" }];
  const response = admissionResponse(review, { patch: operations, warnings: ["w"] });
  assert.deepEqual(response, {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: {
      uid: "0c8f2f7e-2b1a-4f39-9a6b-5d6c1e2f3a41",
      allowed: true,
      patchType: "JSONPatch",
      patch: encodePatch(operations),
      warnings: ["w"],
    },
  });
  assert.deepEqual(patchOf(response), operations);
});

Deno.test("malformed AdmissionReviews are told apart with a reason", async () => {
  const good = JSON.parse(await fixtureText("deployment_pod.json"));
  const cases: [string, RegExp][] = [
    ["{not json", /not JSON/],
    ["[1,2]", /not a JSON object/],
    [JSON.stringify({ ...good, kind: "Pod" }), /kind must be AdmissionReview, got "Pod"/],
    [JSON.stringify({ ...good, apiVersion: "admission.k8s.io/v1beta1" }), /apiVersion must be admission.k8s.io\/v1/],
    [JSON.stringify({ ...good, request: undefined }), /request is missing/],
    [JSON.stringify({ ...good, request: { ...good.request, uid: "" } }), /request.uid is missing/],
    [JSON.stringify({ ...good, request: { ...good.request, object: undefined } }), /must carry the pod/],
  ];
  for (const [body, error] of cases) {
    const parsed = parseAdmissionReview(body);
    assert.equal(parsed.ok, false, body.slice(0, 40));
    assert.match(!parsed.ok ? parsed.error : "", error);
  }
  assert.equal(parseAdmissionReview(await fixtureText("deployment_pod.json")).ok, true);
});

Deno.test("kubectl run's packed --annotations value is injected and written back as separate annotations", async () => {
  const review = await loadReview("deployment_pod.json");
  const pod = podOf(review);
  pod.metadata.annotations = { "coredog.io/inject": "true,coredog.io/path=/corefile" };
  const packed = withPod(review, pod);
  const { response, outcome } = mutateAdmission(packed, { corefileDir: COREFILE_DIR });
  assert.equal(outcome.kind, "injected");
  const patched = applyPatch(pod, patchOf(response));
  assertAcceptablePod(patched);
  assert.equal(patched.metadata.annotations["coredog.io/inject"], "true");
  assert.equal(patched.metadata.annotations["coredog.io/path"], "/corefile");
  assert.ok(response.response.warnings?.some((w: string) => w.includes("does not split on commas")));
  const again = mutateAdmission(withPod(review, patched), { corefileDir: COREFILE_DIR });
  assert.equal(again.response.response.patch, undefined, "a second pass must not patch again");
});
