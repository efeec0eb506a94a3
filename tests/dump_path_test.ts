import assert from "node:assert/strict";
import { parseDumpPath } from "../src/core/dump_path.ts";

const ROOT = "/data/coredog-system/dumps";

Deno.test("the webhook's per-container layout names namespace, pod and container", () => {
  assert.deepEqual(parseDumpPath(ROOT, `${ROOT}/team-a/web-7d9f8c6b5-x2x4q/app/core.server.7.web.1700000000`), {
    kind: "container",
    namespace: "team-a",
    pod: "web-7d9f8c6b5-x2x4q",
    container: "app",
    relative: "team-a/web-7d9f8c6b5-x2x4q/app/core.server.7.web.1700000000",
  });
});

Deno.test("the seed's per-pod layout names namespace and pod, not a container", () => {
  assert.deepEqual(parseDumpPath(`${ROOT}/`, `${ROOT}/default/crash-test/core.bash.1`), {
    kind: "pod",
    namespace: "default",
    pod: "crash-test",
    relative: "default/crash-test/core.bash.1",
  });
});

Deno.test("anything else is unattributed with the reason, never guessed", () => {
  const cases: [string, string][] = [
    [`${ROOT}/core.1`, "not inside a <namespace>/<pod>/ directory"],
    [`${ROOT}/default/core.1`, "not inside a <namespace>/<pod>/ directory"],
    [`${ROOT}/default/pod/app/sub/core.1`, "nested deeper than <namespace>/<pod>/<container>/"],
    [`${ROOT}/Default/pod/core.1`, '"Default" is not a valid namespace name'],
    [`${ROOT}/ns/pod_1/core.1`, '"pod_1" is not a valid pod name'],
    [`${ROOT}/ns/pod/App/core.1`, '"App" is not a valid container name'],
    ["/etc/passwd", "not under CorefileDir"],
    [`${ROOT}-other/ns/pod/core`, "not under CorefileDir"],
  ];
  for (const [path, reason] of cases) {
    const result = parseDumpPath(ROOT, path);
    assert.equal(result.kind, "unattributed", path);
    assert.equal(result.kind === "unattributed" && result.reason, reason, path);
  }
});

Deno.test("dotted pod names (StatefulSets of DNS names) are valid pods", () => {
  const result = parseDumpPath(ROOT, `${ROOT}/db/pg.primary-0/postgres/core`);
  assert.equal(result.kind, "container");
});
