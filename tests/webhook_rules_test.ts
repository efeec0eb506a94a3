import assert from "node:assert/strict";
import {
  type AdmissionPod,
  checkMountPath,
  decideInjection,
  MAX_WARNING_LENGTH,
  PACKED_WARNING,
  podReference,
  REFUSED_PATHS,
  selectContainers,
  skipMessage,
} from "../src/core/injection_rules.ts";

function pod(
  annotations: Record<string, string> | undefined,
  containers = ["app"],
  extra: AdmissionPod = {},
): AdmissionPod {
  return {
    ...extra,
    metadata: { generateName: "web-7d9f8b6c5d-", annotations, ...extra.metadata },
    spec: { containers: containers.map((name) => ({ name })), ...extra.spec },
  };
}

const OPTED_IN = { "coredog.io/inject": "true", "coredog.io/path": "/corefile" };

Deno.test("the seed's recommended paths are accepted as written", () => {
  for (const path of ["/corefile", "/data/dumps", "/app/coredumps"]) {
    assert.deepEqual(checkMountPath(path), { ok: true, path });
  }
});

Deno.test("a path is normalised: doubled slashes, /./ and a trailing slash fold away", () => {
  assert.deepEqual(checkMountPath("/data//dumps/"), { ok: true, path: "/data/dumps" });
  assert.deepEqual(checkMountPath("/./corefile/."), { ok: true, path: "/corefile" });
  assert.deepEqual(checkMountPath("  /corefile  "), { ok: true, path: "/corefile" });
  // A prefix of a refused name is a different directory.
  assert.deepEqual(checkMountPath("/etcetera"), { ok: true, path: "/etcetera" });
  assert.deepEqual(checkMountPath("/variable/cores"), { ok: true, path: "/variable/cores" });
});

Deno.test("every refused path, and everything under it, is refused however it is spelt", () => {
  for (const refused of REFUSED_PATHS) {
    // Everything is under "/", so only "/" itself is refused there.
    const below = refused === "/" ? [] : [`${refused}/cores`, `${refused}//a/b/`];
    for (const spelling of [refused, `${refused}/`, `/${refused}`, `${refused}/./`, ...below]) {
      const result = checkMountPath(spelling);
      assert.equal(result.ok, false, `${spelling} must be refused`);
      assert.equal(!result.ok && result.reason, "path-refused", spelling);
    }
  }
  for (const spelling of ["//etc", "/etc/", "/usr/local/cores", "/var/run/secrets/kubernetes.io", "/proc/self", "//"]) {
    assert.equal(checkMountPath(spelling).ok, false, spelling);
  }
  const etc = checkMountPath("/etc/");
  assert.ok(!etc.ok && etc.detail === 'coredog.io/path "/etc/" is the system path /etc', JSON.stringify(etc));
  const under = checkMountPath("/usr/local/cores");
  assert.ok(!under.ok && under.detail.endsWith("is under the system path /usr"), JSON.stringify(under));
});

Deno.test("'..' segments are rejected before normalising, even when they would resolve somewhere safe", () => {
  for (const path of ["/etc/../etc", "/data/../corefile", "/corefile/..", "/../corefile"]) {
    const result = checkMountPath(path);
    assert.ok(!result.ok && result.reason === "path-invalid" && result.detail.includes('".."'), path);
  }
  // A name that merely contains two dots is not a traversal.
  assert.deepEqual(checkMountPath("/cores..old"), { ok: true, path: "/cores..old" });
});

Deno.test("relative, empty and control-character paths are rejected with the reason", () => {
  const relative = checkMountPath("corefile");
  assert.ok(!relative.ok && relative.reason === "path-invalid");
  assert.equal(
    !relative.ok && relative.detail,
    'coredog.io/path "corefile" must be an absolute path such as /corefile',
  );
  assert.equal(checkMountPath("./corefile").ok, false);
  for (const empty of [undefined, "", "   "]) {
    assert.deepEqual(checkMountPath(empty), {
      ok: false,
      reason: "path-missing",
      detail: "annotation coredog.io/path is required but not set",
    });
  }
  const newline = checkMountPath("/corefile\nlevel=error");
  assert.ok(!newline.ok && newline.reason === "path-invalid");
});

Deno.test("an opted-in pod is injected into every app container by default", () => {
  assert.deepEqual(decideInjection(pod(OPTED_IN, ["app", "sidecar"])), {
    inject: true,
    mountPath: "/corefile",
    containers: ["app", "sidecar"],
    warnings: [],
    unpacked: {},
  });
});

Deno.test("annotations packed into one by kubectl run --annotations=a=1,b=2 are read apart and written back", () => {
  // What the seed's `kubectl run --annotations="coredog.io/inject=true,coredog.io/path=/corefile"` really stores.
  const packed = { "coredog.io/inject": "true,coredog.io/path=/corefile,coredog.io/container=app,worker" };
  const decision = decideInjection(pod(packed, ["app", "worker", "sidecar"]));
  assert.ok(decision.inject);
  assert.equal(decision.mountPath, "/corefile");
  assert.deepEqual(decision.containers, ["app", "worker"]);
  assert.deepEqual(decision.unpacked, {
    "coredog.io/inject": "true",
    "coredog.io/path": "/corefile",
    "coredog.io/container": "app,worker",
  });
  assert.equal(decision.warnings[0], PACKED_WARNING);
  assert.ok(PACKED_WARNING.length < 120);
  // Only path and container are read apart: the webhook's own coredog.io/injected cannot be set that way, and an
  // annotation the pod sets on its own wins over a packed copy.
  const smuggled = decideInjection(pod({ "coredog.io/inject": "true,coredog.io/injected=x" }, ["app"]));
  assert.ok(!smuggled.inject && smuggled.reason === "not-enabled");
  const both = decideInjection(
    pod({ "coredog.io/inject": "true,coredog.io/path=/elsewhere", "coredog.io/path": "/corefile" }, ["app"]),
  );
  assert.ok(both.inject && both.mountPath === "/corefile");
  assert.deepEqual(both.unpacked, { "coredog.io/inject": "true" });
  // A value that only looks like a list is not taken apart.
  const plain = decideInjection(pod({ "coredog.io/inject": "true,yes", "coredog.io/path": "/corefile" }, ["app"]));
  assert.ok(!plain.inject && plain.reason === "not-enabled");
});

Deno.test("a pod that never asked for CoreDog is skipped silently, without kubectl warnings", () => {
  const cases: (Record<string, string> | undefined)[] = [
    undefined,
    {},
    { "coredog.io/inject": "false" },
    { "coredog.io/inject": "false", "coredog.io/path": "/c" },
  ];
  for (const annotations of cases) {
    const decision = decideInjection(pod(annotations));
    assert.equal(decision.inject, false);
    assert.equal(!decision.inject && decision.reason, "not-enabled");
    assert.deepEqual(decision.warnings, [], JSON.stringify(annotations));
  }
});

Deno.test("a pod that half-asked for CoreDog is told what is missing", () => {
  const forgotInject = decideInjection(pod({ "coredog.io/path": "/corefile" }));
  assert.deepEqual(forgotInject.warnings, ['coredog: not injected: add coredog.io/inject: "true" to enable CoreDog']);
  const yes = decideInjection(pod({ "coredog.io/inject": "yes", "coredog.io/path": "/corefile" }));
  assert.deepEqual(yes.warnings, ['coredog: not injected: annotation coredog.io/inject is "yes", not "true"']);
  const noPath = decideInjection(pod({ "coredog.io/inject": "true" }));
  assert.ok(!noPath.inject);
  assert.equal(noPath.reason, "path-missing");
  assert.equal(noPath.detail, "annotation coredog.io/path is required but not set");
  assert.deepEqual(noPath.warnings, ["coredog: not injected: annotation coredog.io/path is required but not set"]);
  // The value is compared without case or surrounding spaces, as people type it.
  assert.equal(decideInjection(pod({ ...OPTED_IN, "coredog.io/inject": " True " })).inject, true);
});

Deno.test("a bad path skips the pod and the warning quotes the rule", () => {
  const decision = decideInjection(pod({ ...OPTED_IN, "coredog.io/path": "//etc" }));
  assert.ok(!decision.inject);
  assert.equal(decision.reason, "path-refused");
  assert.deepEqual(decision.warnings, ['coredog: not injected: coredog.io/path "//etc" is the system path /etc']);
});

Deno.test("coredog.io/container picks containers by name, trimming spaces, in pod order", () => {
  const decision = decideInjection(
    pod({ ...OPTED_IN, "coredog.io/container": " worker ,app,, " }, ["app", "worker", "nginx", "metrics"]),
  );
  assert.deepEqual(decision, {
    inject: true,
    mountPath: "/corefile",
    containers: ["app", "worker"],
    warnings: [],
    unpacked: {},
  });
  assert.deepEqual(selectContainers(" , ", { containers: ["a", "b"] }), { selected: ["a", "b"], warnings: [] });
});

Deno.test("unknown container names and init containers are reported, the rest still injected", () => {
  const decision = decideInjection(pod(
    { ...OPTED_IN, "coredog.io/container": "app,migrate,wrokers" },
    ["app", "workers"],
    { spec: { initContainers: [{ name: "migrate" }] } },
  ));
  assert.ok(decision.inject);
  assert.deepEqual(decision.containers, ["app"]);
  assert.deepEqual(decision.warnings, [
    'coredog: init containers are never injected: "migrate"',
    'coredog: coredog.io/container names no such container: "wrokers"',
  ]);
});

Deno.test("a selection that matches nothing skips the pod with a warning", () => {
  const decision = decideInjection(pod({ ...OPTED_IN, "coredog.io/container": "api" }, ["app"]));
  assert.ok(!decision.inject);
  assert.equal(decision.reason, "no-matching-container");
  assert.deepEqual(decision.warnings, [
    'coredog: not injected: no container matches coredog.io/container "api"',
    'coredog: coredog.io/container names no such container: "api"',
  ]);
});

Deno.test("mirror pods and Windows pods are skipped", () => {
  const mirror = decideInjection(pod({ ...OPTED_IN, "kubernetes.io/config.mirror": "3f1c" }));
  assert.ok(!mirror.inject && mirror.reason === "mirror-pod");
  const os = decideInjection(pod(OPTED_IN, ["app"], { spec: { os: { name: "windows" } } }));
  assert.ok(!os.inject && os.reason === "windows-pod");
  assert.deepEqual(os.warnings, ["coredog: not injected: Windows pods are not supported"]);
  const selector = decideInjection(
    pod(OPTED_IN, ["app"], { spec: { nodeSelector: { "kubernetes.io/os": "windows" } } }),
  );
  assert.ok(!selector.inject && selector.reason === "windows-pod");
  const linux = decideInjection(pod(OPTED_IN, ["app"], { spec: { os: { name: "linux" } } }));
  assert.equal(linux.inject, true);
});

Deno.test("a pod without containers or with a nameless one is skipped, not crashed on", () => {
  assert.equal(
    (decideInjection({ metadata: { annotations: OPTED_IN } }) as { reason: string }).reason,
    "no-containers",
  );
  assert.equal(
    (decideInjection({ metadata: { annotations: OPTED_IN }, spec: { containers: [{}] } }) as { reason: string }).reason,
    "invalid-pod",
  );
});

Deno.test("the skip log line names the pod, or its generateName with * before it has a name", () => {
  assert.equal(podReference("default", { metadata: { name: "my-pod" } }), "default/my-pod");
  assert.equal(
    podReference("team-a", { metadata: { name: "", generateName: "web-7d9f8b6c5d-" } }),
    "team-a/web-7d9f8b6c5d-*",
  );
  assert.equal(podReference("team-a", {}), "team-a/<unnamed>");
  assert.equal(
    skipMessage("default/my-pod", "annotation coredog.io/path is required but not set"),
    "Skip injection for pod default/my-pod - Reason: annotation coredog.io/path is required but not set",
  );
});

Deno.test("every warning stays under 120 characters, however long the names", () => {
  const long = "x".repeat(63);
  const decisions = [
    decideInjection(pod({ ...OPTED_IN, "coredog.io/container": `${long},${long}1,${long}2,app` }, ["app"])),
    decideInjection(pod({ ...OPTED_IN, "coredog.io/container": long }, ["app"])),
    decideInjection(pod({ ...OPTED_IN, "coredog.io/path": `/${"y".repeat(500)}/../z` })),
    decideInjection(pod({ ...OPTED_IN, "coredog.io/inject": "z".repeat(300) })),
  ];
  const warnings = decisions.flatMap((d) => d.warnings);
  assert.ok(warnings.length >= 5);
  for (const warning of warnings) {
    assert.ok(warning.length < 120 && warning.length <= MAX_WARNING_LENGTH, warning);
    assert.ok(warning.startsWith("coredog: "), warning);
  }
});
