import assert from "node:assert/strict";
import { ContainerCap } from "../src/core/container_cap.ts";
import { type LocalCore, planDiskActions } from "../src/core/disk_policy.ts";
import { parseSize, resolveSize } from "../src/core/size_spec.ts";

const MiB = 1024 * 1024;

function core(name: string, mtimeMs: number, options: Partial<LocalCore> = {}): LocalCore {
  return { path: name, diskBytes: 10 * MiB, mtimeMs, stored: false, busy: false, ...options };
}

Deno.test("over MaxUse, stored local copies go first, oldest first; cores not yet stored stay", () => {
  const cores = [
    core("stored-new", 300, { stored: true }),
    core("stored-old", 100, { stored: true }),
    core("pending", 200),
  ];
  const plan = planDiskActions(cores, {
    usedBytes: 30 * MiB,
    freeBytes: 1000 * MiB,
    limits: { maxUseBytes: 5 * MiB, keepFreeBytes: 100 * MiB },
  });
  assert.deepEqual(plan.evict.map((c) => c.path), ["stored-old", "stored-new"]);
  assert.deepEqual(plan.drop, [], "the node has room: a core not yet stored is kept even over MaxUse");
  assert.equal(plan.overMaxUse, true);
});

Deno.test("under KeepFree, stored copies go, then cores not yet stored, newest first, until there is room", () => {
  const cores = [
    core("stored", 50, { stored: true }),
    core("first-crash", 100),
    core("second-crash", 200),
    core("third-crash", 300),
    core("uploading-now", 400, { busy: true }),
  ];
  const plan = planDiskActions(cores, {
    usedBytes: 50 * MiB,
    freeBytes: 5 * MiB,
    limits: { keepFreeBytes: 30 * MiB },
  });
  assert.deepEqual(plan.evict.map((c) => c.path), ["stored"]);
  assert.deepEqual(plan.drop.map((c) => c.path), ["third-crash", "second-crash"]);
});

Deno.test("within limits nothing is touched; no limits means nothing is ever touched", () => {
  const cores = [core("a", 1, { stored: true }), core("b", 2)];
  assert.deepEqual(
    planDiskActions(cores, { usedBytes: 20 * MiB, freeBytes: 500 * MiB, limits: { maxUseBytes: 100 * MiB } }),
    { evict: [], drop: [], overMaxUse: false },
  );
  assert.deepEqual(planDiskActions(cores, { usedBytes: 20 * MiB, freeBytes: 0, limits: {} }), {
    evict: [],
    drop: [],
    overMaxUse: false,
  });
});

Deno.test("sizes: off, quantities and shares of the file system; bad ones say what is accepted", () => {
  const size = (text: string) => {
    const parsed = parseSize(text);
    if (!parsed.ok) throw new Error(parsed.reason);
    return resolveSize(parsed.size, 1000 * MiB);
  };
  assert.equal(size("0"), undefined);
  assert.equal(size("512"), 512);
  assert.equal(size("4Gi"), 4 * 1024 * MiB);
  assert.equal(size("2G"), 2e9);
  assert.equal(size("500Mi"), 500 * MiB);
  assert.equal(size("10%"), 100 * MiB);
  const bad = parseSize("10 gigs");
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.reason, '"10 gigs" is not a size; write e.g. 0, 500Mi, 4Gi, 2G or 10%');
  assert.equal(parseSize("150%").ok, false);
});

Deno.test("the crash-loop cap admits the first N cores of a container per hour, per container", () => {
  const cap = new ContainerCap(3);
  const t0 = 1_000_000;
  assert.deepEqual([1, 2, 3, 4, 5].map((i) => cap.admit("ns/pod/app", t0 + i)), [true, true, true, false, false]);
  assert.equal(cap.admit("ns/pod/sidecar", t0), true, "another container has its own count");
  assert.equal(cap.admit("ns/pod/app", t0 + 60 * 60 * 1000 + 2), true, "the oldest core left the hour");
  const unlimited = new ContainerCap(0);
  assert.ok(Array.from({ length: 100 }, () => unlimited.admit("x", t0)).every(Boolean));
});
