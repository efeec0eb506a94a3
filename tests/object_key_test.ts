import assert from "node:assert/strict";
import { buildObjectKeys } from "../src/core/object_key.ts";

const BASE = {
  storeDir: "corefiles",
  crashedAtMs: Date.UTC(2026, 10, 27, 6, 45, 12, 123),
  filename: "core.server.7",
  id: "0123456789abcdef0123456789abcdef",
  compression: "zstd" as const,
};

Deno.test("keys follow <StoreDir>/<ns>/<pod>/<container>/<UTC time>-<exe>-<pid>.core.zst with metadata beside", () => {
  const keys = buildObjectKeys({
    ...BASE,
    namespace: "team-a",
    pod: "web-1",
    container: "app",
    executable: "server",
    pid: 7,
  });
  assert.equal(keys.core, "corefiles/team-a/web-1/app/20261127T064512.123Z-server-7.core.zst");
  assert.equal(keys.metadata, "corefiles/team-a/web-1/app/20261127T064512.123Z-server-7.json");
});

Deno.test("a reused file name still gets a new key: the crash time is part of it", () => {
  const first = buildObjectKeys({ ...BASE, namespace: "a", pod: "p", container: "c", executable: "srv", pid: 1 });
  const second = buildObjectKeys({
    ...BASE,
    crashedAtMs: BASE.crashedAtMs + 1,
    namespace: "a",
    pod: "p",
    container: "c",
    executable: "srv",
    pid: 1,
  });
  assert.notEqual(first.core, second.core);
});

Deno.test("unknown container, unattributed cores and hostile names stay inside their prefix", () => {
  assert.equal(
    buildObjectKeys({ ...BASE, namespace: "a", pod: "p", executable: "srv", pid: 1 }).core,
    "corefiles/a/p/_pod/20261127T064512.123Z-srv-1.core.zst",
  );
  assert.equal(
    buildObjectKeys({ ...BASE, filename: "../../etc/passwd", compression: "gzip" }).core,
    "corefiles/_unattributed/20261127T064512.123Z-.._.._etc_passwd-0123456789ab.core.gz",
  );
  assert.equal(
    buildObjectKeys({ ...BASE, storeDir: "", executable: "..", pid: 3, compression: "none" }).core,
    "_unattributed/20261127T064512.123Z-core-3.core",
  );
});
