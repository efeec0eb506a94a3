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
import { ScenarioTable } from "./support/scenario_table.ts";

const table = new ScenarioTable("Guard suite");
const MiB = 1024 * 1024;

/** Mounts a tmpfs of `sizeMiB` at `dir`, or says why it cannot. */
async function mountSmallFileSystem(dir: string, sizeMiB: number): Promise<string | undefined> {
  await Deno.mkdir(dir, { recursive: true });
  try {
    const result = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir],
      stderr: "piped",
    }).output();
    return result.success ? undefined : new TextDecoder().decode(result.stderr).trim() || "mount failed";
  } catch (error) {
    return (error as Error).message;
  }
}

async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stderr: "null" }).output().catch(() => {});
}

const probe = await Deno.makeTempDir({ prefix: "coredog-mount-probe-" });
const cannotMount = await mountSmallFileSystem(`${probe}/fs`, 1);
await unmount(`${probe}/fs`);
await Deno.remove(probe, { recursive: true });
if (cannotMount) console.warn(`SKIPPING disk guard tests: cannot mount a small tmpfs here (${cannotMount})`);

Deno.test({
  name: "disk guard: over MaxUse, local copies already stored are deleted, oldest first",
  ignore: cannotMount !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-guard-" });
    const root = `${dir}/dumps`;
    await mountSmallFileSystem(root, 64);
    const test = await startTestWatcher({
      root,
      localDir: `${dir}/bucket`,
      storageYaml: ["DeleteLocalCorefile: false", "Compression: none"],
      watcherYaml: ['MaxUse: "3Mi"', 'KeepFree: "0"'],
    });
    try {
      const podDir = `${root}/shop/api-0/app`;
      await Deno.mkdir(podDir, { recursive: true });
      for (let i = 1; i <= 5; i++) {
        await Deno.writeFile(`${podDir}/core.${i}`, randomBytes(MiB));
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
        bytesLost: 0,
      });
    } finally {
      await test.stop();
      await unmount(root);
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
    const root = `${dir}/dumps`;
    await mountSmallFileSystem(root, 32);
    const test = await startTestWatcher({
      root,
      s3Endpoint: s3.endpoint,
      watcherYaml: ['KeepFree: "10Mi"', 'MaxUse: "0"'],
    });
    try {
      await s3.kill();
      const written: string[] = [];
      for (let i = 1; i <= 6; i++) {
        const pod = `${root}/shop/worker-${i}/app`;
        await Deno.mkdir(pod, { recursive: true });
        await Deno.writeFile(`${pod}/core.worker.${i}`, randomBytes(4 * MiB));
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
        bytesLost: 0,
        bytesDropped: 4 * MiB,
      });
    } finally {
      await test.stop();
      await s3.stop();
      await unmount(root);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("crash-loop cap: the first N cores of a container per hour are stored, the rest counted and reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-guard-" });
  const root = `${dir}/dumps`;
  const test = await startTestWatcher({
    root,
    localDir: `${dir}/bucket`,
    watcherYaml: ["MaxCoresPerContainerPerHour: 3"],
  });
  try {
    const podDir = `${root}/shop/looper-0/app`;
    await Deno.mkdir(podDir, { recursive: true });
    for (let i = 1; i <= 5; i++) {
      await Deno.writeTextFile(`${podDir}/core.loop.${i}`, `crash ${i} `.repeat(100));
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
      bytesLost: 0,
      bytesDropped: 2 * "crash 4 ".length * 100,
    });
  } finally {
    await test.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("size limit: a core over MaxCoreSize is not stored, deleted from the node and reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-guard-" });
  const root = `${dir}/dumps`;
  const test = await startTestWatcher({ root, localDir: `${dir}/bucket`, watcherYaml: ['MaxCoreSize: "1Mi"'] });
  try {
    const podDir = `${root}/shop/big-0/app`;
    await Deno.mkdir(podDir, { recursive: true });
    await Deno.writeFile(`${podDir}/core.big`, randomBytes(2 * MiB));
    await Deno.writeFile(`${podDir}/core.small`, randomBytes(MiB / 2));
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
      bytesLost: 0,
      bytesDropped: 2 * MiB,
    });
  } finally {
    await test.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guard suite: the table", () => {
  table.print();
});
