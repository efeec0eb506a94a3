/**
 * The guards that keep a node healthy: the disk guard (`MaxUse`,
 * `KeepFree`) on a real, small file system (a tmpfs mounted for the test;
 * skipped with the reason where mounting is not allowed), the crash-loop
 * cap and the size limit.
 */

import assert from "node:assert/strict";
import { exists, listTree, startTestWatcher, waitFor } from "./support/harness.ts";
import { listKeys, testS3Client } from "./support/s3_client.ts";
import { startS3Server } from "./support/s3_server.ts";
import { randomBytes } from "./support/random_bytes.ts";
import { coresInBucket, coresInDirectory, digestOf, measureLoss, ScenarioTable } from "./support/scenario_table.ts";
import { cannotMountReason, mountSmallFileSystem, unmount } from "./support/small_fs.ts";

const table = new ScenarioTable("Guard suite");
const MiB = 1024 * 1024;

const cannotMount = await cannotMountReason();
if (cannotMount) console.warn(`SKIPPING disk guard tests: cannot mount a small tmpfs here (${cannotMount})`);

Deno.test({
  name: "disk guard: over MaxUse, local copies already stored are deleted, oldest first",
  ignore: cannotMount !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-guard-" });
    const corefileDir = `${dir}/dumps`;
    await mountSmallFileSystem(corefileDir, 64);
    const test = await startTestWatcher({
      corefileDir,
      localDir: `${dir}/bucket`,
      storageYaml: ["DeleteLocalCorefile: false", "Compression: none"],
      watcherYaml: ['MaxUse: "3Mi"', 'KeepFree: "0"'],
    });
    try {
      const podDir = `${corefileDir}/shop/api-0/app`;
      await Deno.mkdir(podDir, { recursive: true });
      const written = [];
      for (let i = 1; i <= 5; i++) {
        const bytes = randomBytes(MiB);
        written.push(digestOf(bytes));
        await Deno.writeFile(`${podDir}/core.${i}`, bytes);
        await waitFor(`core ${i} stored`, () => test.watcher.metrics.coresUploaded.get() === i);
        await new Promise((r) => setTimeout(r, 20));
      }
      await waitFor("two evictions", () => test.watcher.metrics.evicted.get() === 2, 15_000);
      assert.deepEqual(await listTree(podDir), ["core.3", "core.4", "core.5"], "the oldest copies went first");
      assert.equal((await listTree(`${dir}/bucket`)).filter((f) => f.endsWith(".core")).length, 5, "all five stored");
      assert.ok(test.logs.some((l) => l.includes("deleted the local copy of a stored core to free space")));
      table.add({
        scenario: "MaxUse 3Mi with kept copies",
        outcome: "2 oldest stored copies deleted",
        figures: "5 × 1 MiB cores, 5 stored, 3 kept",
        loss: measureLoss(written, await coresInDirectory(`${dir}/bucket`)),
      });
    } finally {
      await test.stop();
      await unmount(corefileDir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "disk guard: when the node would run out, the newest core not yet stored is dropped and reported",
  ignore: cannotMount !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-guard-" });
    let s3 = await startS3Server(dir);
    const corefileDir = `${dir}/dumps`;
    await mountSmallFileSystem(corefileDir, 32);
    const test = await startTestWatcher({
      corefileDir,
      s3Endpoint: s3.endpoint,
      // A core in an upload attempt is never dropped (see disk_guard_policy_test.ts); the long settle keeps every
      // core waiting, not in an attempt against the dead store, when the guard looks, so that the newest is the one.
      watcherYaml: ['KeepFree: "10Mi"', 'MaxUse: "0"', "SettleMilliseconds: 5000"],
    });
    try {
      await s3.kill();
      const written: string[] = [];
      const digests = [];
      for (let i = 1; i <= 6; i++) {
        const pod = `${corefileDir}/shop/worker-${i}/app`;
        await Deno.mkdir(pod, { recursive: true });
        const bytes = randomBytes(4 * MiB);
        digests.push(digestOf(bytes));
        await Deno.writeFile(`${pod}/core.worker.${i}`, bytes);
        written.push(`${pod}/core.worker.${i}`);
        await new Promise((r) => setTimeout(r, 30));
      }
      await waitFor("a core dropped", () => test.watcher.metrics.notStored.get({ reason: "disk-full" }) >= 1, 20_000);
      const dropped = [];
      for (const path of written) if (!(await exists(path))) dropped.push(path);
      assert.deepEqual(dropped, [written[5]], "only the newest core was dropped");
      const line = test.logs.find((l) => l.includes("core not stored: the node's disk is nearly full"))!;
      assert.ok(line.includes("level=error") && line.includes("pod=shop/worker-6"), line);
      await waitFor(
        "the message naming the pod and the core",
        () =>
          test.messages.some((m) =>
            m.includes("[shop/worker-6] core: core.worker.6") &&
            m.includes("not stored: the node's disk is nearly full")
          ),
      );

      s3 = await startS3Server(dir, { port: s3.port });
      await waitFor("the five kept cores stored", () => test.watcher.metrics.coresUploaded.get() === 5, 60_000);
      assert.equal((await listKeys(testS3Client(s3.endpoint))).filter((k) => k.endsWith(".core.zst")).length, 5);
      table.add({
        scenario: "node nearly full, store down (KeepFree 10Mi)",
        outcome: "newest core dropped and reported; 5 kept, stored later",
        figures: "32 MiB fs, 6 × 4 MiB cores",
        // The newest core was checked above to be deleted, logged and reported.
        loss: measureLoss(digests, await coresInBucket(s3.endpoint), [digests[5]]),
      });
    } finally {
      await test.stop();
      await s3.stop();
      await unmount(corefileDir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("crash-loop cap: the first N cores of a container per hour are stored, the rest counted and reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-guard-" });
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({
    corefileDir,
    localDir: `${dir}/bucket`,
    watcherYaml: ["MaxCoresPerContainerPerHour: 3"],
  });
  try {
    const podDir = `${corefileDir}/shop/looper-0/app`;
    await Deno.mkdir(podDir, { recursive: true });
    const written = [];
    for (let i = 1; i <= 5; i++) {
      const bytes = new TextEncoder().encode(`crash ${i} `.repeat(100));
      written.push(digestOf(bytes));
      await Deno.writeFile(`${podDir}/core.loop.${i}`, bytes);
      await waitFor(`core ${i} handled`, async () => !(await exists(`${podDir}/core.loop.${i}`)));
    }
    assert.equal(test.watcher.metrics.coresUploaded.get(), 3);
    assert.equal(test.watcher.metrics.notStored.get({ reason: "container-cap" }), 2);
    assert.equal((await listTree(`${dir}/bucket`)).filter((f) => f.endsWith(".core.zst")).length, 3);
    await waitFor("five messages", () => test.messages.length === 5);
    assert.equal(
      test.messages.filter((m) => m.includes("not stored: more than 3 cores of shop/looper-0/app in the last hour"))
        .length,
      2,
    );
    table.add({
      scenario: "crash loop, cap 3 an hour",
      outcome: "3 stored, 2 counted, reported and deleted",
      figures: "5 cores of one container",
      // The two over the cap were checked above to be counted and reported.
      loss: measureLoss(written, await coresInDirectory(`${dir}/bucket`), written.slice(3)),
    });
  } finally {
    await test.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("size limit: a core over MaxCoreSize is not stored, deleted from the node and reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-guard-" });
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({ corefileDir, localDir: `${dir}/bucket`, watcherYaml: ['MaxCoreSize: "1Mi"'] });
  try {
    const podDir = `${corefileDir}/shop/big-0/app`;
    await Deno.mkdir(podDir, { recursive: true });
    const big = randomBytes(2 * MiB);
    const small = randomBytes(MiB / 2);
    await Deno.writeFile(`${podDir}/core.big`, big);
    await Deno.writeFile(`${podDir}/core.small`, small);
    await waitFor(
      "both handled",
      async () => !(await exists(`${podDir}/core.big`)) && !(await exists(`${podDir}/core.small`)),
    );
    assert.equal(test.watcher.metrics.coresUploaded.get(), 1);
    assert.equal(test.watcher.metrics.notStored.get({ reason: "too-large" }), 1);
    const stored = (await listTree(`${dir}/bucket`)).filter((f) => f.endsWith(".core.zst"));
    assert.equal(stored.length, 1);
    assert.match(stored[0], /core\.small/);
    assert.ok(
      test.logs.some((l) =>
        l.includes('msg="core not stored: core of 2.0 MiB is larger than Watcher.MaxCoreSize (1.0 MiB)"')
      ),
    );
    await waitFor("two messages", () => test.messages.length === 2);
    table.add({
      scenario: "MaxCoreSize 1Mi",
      outcome: "2 MiB core skipped with log and message; 0.5 MiB stored",
      figures: "2 cores",
      // The big one was checked above to be logged and reported.
      loss: measureLoss([digestOf(big), digestOf(small)], await coresInDirectory(`${dir}/bucket`), [digestOf(big)]),
    });
  } finally {
    await test.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guard suite: the table", () => {
  table.finish([
    ...(cannotMount ? [] : ["MaxUse 3Mi with kept copies", "node nearly full, store down (KeepFree 10Mi)"]),
    "crash loop, cap 3 an hour",
    "MaxCoreSize 1Mi",
  ]);
});
