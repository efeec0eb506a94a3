/**
 * The watcher end to end against a real S3 server process: real cores from
 * really crashed processes, real files, real uploads.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import zlib from "node:zlib";
import type { Storage } from "../src/storage/mod.ts";
import { exists, startTestWatcher, waitFor } from "./support/harness.ts";
import { makeRealCore, realCoreSkipReason } from "./support/real_core.ts";
import { getBytes, lastModified, listKeys, testS3Client } from "./support/s3_client.ts";
import { startS3Server } from "./support/s3_server.ts";

async function scratch(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "coredog-test-" });
}

/** The cores and their metadata: every key but the crash-signature state kept under `<StoreDir>/_signatures/`. */
async function coreKeys(client: ReturnType<typeof testS3Client>): Promise<string[]> {
  return (await listKeys(client)).filter((key) => !key.startsWith("corefiles/_signatures/"));
}

function indexOfLine(logs: string[], text: string): number {
  return logs.findIndex((line) => line.includes(text));
}

Deno.test({
  name: "a real core is stored compressed with its metadata, verified, deleted locally and reported",
  ignore: realCoreSkipReason !== undefined,
  async fn() {
    const dir = await scratch();
    const s3 = await startS3Server(dir);
    const corefileDir = `${dir}/dumps`;
    const test = await startTestWatcher({ corefileDir, s3Endpoint: s3.endpoint });
    try {
      const corePath = await makeRealCore(`${corefileDir}/team-a/web-7d9f8c6b5-x2x4q/app`);
      const original = await Deno.readFile(corePath);
      await waitFor("the local core to be deleted", async () => !(await exists(corePath)));
      await waitFor("the message", () => test.messages.length === 1);

      const client = testS3Client(s3.endpoint);
      const keys = await coreKeys(client);
      assert.equal(keys.length, 2, keys.join(", "));
      const coreKey = keys.find((k) => k.endsWith(".core.zst"))!;
      assert.match(coreKey, /^corefiles\/team-a\/web-7d9f8c6b5-x2x4q\/app\/\d{8}T\d{6}\.\d{3}Z-bash-\d+\.core\.zst$/);
      const stored = await getBytes(client, coreKey);
      assert.deepEqual(
        new Uint8Array(zlib.zstdDecompressSync(stored)),
        original,
        "the object decompresses to the core",
      );

      const metadata = JSON.parse(
        new TextDecoder().decode(await getBytes(client, coreKey.replace(".core.zst", ".json"))),
      );
      assert.equal(metadata.pod.namespace, "team-a");
      assert.equal(metadata.pod.name, "web-7d9f8c6b5-x2x4q");
      assert.equal(metadata.container.name, "app");
      assert.equal(metadata.attribution.kind, "container");
      assert.equal(metadata.process.signal, 11);
      assert.equal(metadata.process.signalName, "SIGSEGV");
      assert.equal(metadata.process.executable, "bash");
      assert.equal(metadata.corefile.format, "elf-core");
      assert.equal(metadata.corefile.truncated, false);
      assert.equal(metadata.corefile.rawBytes, original.length);
      assert.equal(metadata.corefile.storedBytes, stored.length);
      assert.equal(metadata.corefile.sha256, createHash("sha256").update(original).digest("hex"));
      assert.equal(metadata.node.name, "node-1");
      assert.equal(metadata.storage.key, coreKey);
      assert.equal(metadata.coredogVersion, "0.1.0");
      assert.equal(metadata.storage.url, undefined, "an expiring link is not stored");

      const capture = indexOfLine(test.logs, `msg="capture a file:${corePath}"`);
      const resolved = indexOfLine(test.logs, 'msg="resolved pod from webhook path: team-a/web-7d9f8c6b5-x2x4q"');
      const stored_ = indexOfLine(test.logs, 'msg="stored core"');
      const deleted = indexOfLine(test.logs, `msg="deleted local corefile: ${corePath}"`);
      assert.ok(capture >= 0 && capture < resolved && resolved < stored_ && stored_ < deleted, test.logs.join("\n"));

      const message = test.messages[0];
      assert.match(message, /\[team-a\/web-7d9f8c6b5-x2x4q\] core: core/);
      assert.match(message, /signal: SIGSEGV \(11\)/);
      const url = message.match(/download: (\S+)/)![1];
      assert.match(url, /X-Amz-Signature=/);
      const download = await fetch(url);
      assert.equal(download.status, 200, "the presigned link downloads the core");
      assert.deepEqual(new Uint8Array(await download.arrayBuffer()), stored);
    } finally {
      await test.stop();
      await s3.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a file still being written is not uploaded; it is once closed and complete", async () => {
  const dir = await scratch();
  const s3 = await startS3Server(dir);
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({ corefileDir, s3Endpoint: s3.endpoint });
  const client = testS3Client(s3.endpoint);
  try {
    await Deno.mkdir(`${corefileDir}/ns/pod-1/app`, { recursive: true });
    const path = `${corefileDir}/ns/pod-1/app/core.big`;
    const file = await Deno.open(path, { write: true, createNew: true });
    const chunk = crypto.getRandomValues(new Uint8Array(64 * 1024));
    for (let i = 0; i < 20; i++) {
      await file.write(chunk);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(await coreKeys(client), [], "nothing is uploaded while the file is open and growing");
    assert.ok(await exists(path));
    await file.write(chunk);
    file.close();
    await waitFor("the upload", async () => (await coreKeys(client)).length === 2);
    const metadata = JSON.parse(
      new TextDecoder().decode(await getBytes(client, (await coreKeys(client)).find((k) => k.endsWith(".json"))!)),
    );
    assert.equal(metadata.corefile.rawBytes, 21 * chunk.length, "the whole file was stored");
    assert.equal(metadata.corefile.format, "not-elf");
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a core closed while shorter than its headers promise waits for the rest, or is stored marked truncated",
  ignore: realCoreSkipReason !== undefined,
  async fn() {
    const dir = await scratch();
    const s3 = await startS3Server(dir);
    const corefileDir = `${dir}/dumps`;
    const core = await Deno.readFile(await makeRealCore(`${dir}/scratch`));
    const test = await startTestWatcher({
      corefileDir,
      s3Endpoint: s3.endpoint,
      watcherYaml: ["TruncatedAfterSeconds: 3"],
    });
    const client = testS3Client(s3.endpoint);
    try {
      await Deno.mkdir(`${corefileDir}/ns/pod-1/app`, { recursive: true });
      // First: half a core, closed, then the rest appended: stored whole.
      const path = `${corefileDir}/ns/pod-1/app/core.1`;
      const half = Math.floor(core.length / 2);
      await Deno.writeFile(path, core.slice(0, half));
      await new Promise((r) => setTimeout(r, 1000));
      assert.deepEqual(await coreKeys(client), [], "half a core is not uploaded at once");
      await Deno.writeFile(path, core.slice(half), { append: true });
      await waitFor("the complete core", async () => (await coreKeys(client)).length === 2);
      let metadataKey = (await coreKeys(client)).find((k) => k.endsWith(".json"))!;
      let metadata = JSON.parse(new TextDecoder().decode(await getBytes(client, metadataKey)));
      assert.equal(metadata.corefile.truncated, false);
      assert.equal(metadata.corefile.rawBytes, core.length);

      // Then: half a core that never completes: stored after the timeout, marked truncated.
      const cut = `${corefileDir}/ns/pod-1/app/core.2`;
      await Deno.writeFile(cut, core.slice(0, half));
      await waitFor("the truncated core", async () => (await coreKeys(client)).length === 4);
      metadataKey = (await coreKeys(client)).find((k) => k.endsWith(".json") && k !== metadataKey)!;
      metadata = JSON.parse(new TextDecoder().decode(await getBytes(client, metadataKey)));
      assert.equal(metadata.corefile.truncated, true);
      assert.equal(metadata.corefile.expectedBytes, core.length);
      assert.equal(metadata.corefile.rawBytes, half);
      assert.ok(metadata.problems.some((p: string) => p.startsWith("truncated:")));
      await waitFor("the message", () => test.messages.length === 2);
    } finally {
      await test.stop();
      await s3.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("1,000 files written in a burst are all uploaded", async () => {
  const dir = await scratch();
  const s3 = await startS3Server(dir);
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({
    corefileDir,
    s3Endpoint: s3.endpoint,
    watcherYaml: ["UploadConcurrency: 8", "RescanSeconds: 5"],
  });
  const client = testS3Client(s3.endpoint);
  try {
    const body = new Uint8Array(2048).fill(7);
    const writes: Promise<void>[] = [];
    for (let pod = 0; pod < 20; pod++) {
      const podDir = `${corefileDir}/burst/pod-${pod}/app`;
      await Deno.mkdir(podDir, { recursive: true });
      for (let i = 0; i < 50; i++) writes.push(Deno.writeFile(`${podDir}/core.${i}`, body));
    }
    await Promise.all(writes);
    await waitFor("1,000 uploads", () => test.watcher.metrics.coresUploaded.get() === 1000, 180_000);
    await waitFor("every local file deleted", () => test.watcher.pending() === 0, 30_000);
    const keys = await coreKeys(client);
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 1000);
    assert.equal(keys.filter((k) => k.endsWith(".json")).length, 1000);
    for (let pod = 0; pod < 20; pod++) {
      assert.deepEqual([...Deno.readDirSync(`${corefileDir}/burst/pod-${pod}/app`)], []);
    }
    await waitFor("1,000 messages", () => test.messages.length === 1000);
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with DeleteLocalCorefile: false the core is kept and never uploaded twice, across restarts too", async () => {
  const dir = await scratch();
  const s3 = await startS3Server(dir);
  const corefileDir = `${dir}/dumps`;
  const client = testS3Client(s3.endpoint);
  const options = { corefileDir, s3Endpoint: s3.endpoint, storageYaml: ["DeleteLocalCorefile: false"] };
  let test = await startTestWatcher(options);
  try {
    await Deno.mkdir(`${corefileDir}/ns/pod-1/app`, { recursive: true });
    await Deno.writeTextFile(`${corefileDir}/ns/pod-1/app/core.1`, "kept core");
    await waitFor("the upload", () => test.watcher.metrics.coresUploaded.get() === 1);
    await waitFor("the message", () => test.messages.length === 1);
    const key = (await coreKeys(client)).find((k) => k.endsWith(".core.zst"))!;
    const firstUpload = await lastModified(client, key);
    await test.watcher.scan();
    await test.stop();

    test = await startTestWatcher(options);
    await waitFor("the restarted watcher's first scan", () => test.watcher.ready());
    // Seen, then no longer pending: the pipeline has looked the file up (QuietSeconds after it was seen).
    await waitFor("the restarted watcher to see the kept core", () => test.watcher.metrics.coresSeen.get() === 1);
    await waitFor("the restarted watcher to have examined it", () => test.watcher.pending() === 0);
    assert.equal(test.watcher.metrics.coresUploaded.get(), 0, "not uploaded again after the restart");
    assert.equal(test.messages.length, 0, "not notified again after the restart");
    assert.equal(await lastModified(client, key), firstUpload);
    assert.equal(await Deno.readTextFile(`${corefileDir}/ns/pod-1/app/core.1`), "kept core");
    assert.equal((await coreKeys(client)).length, 2);
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("while the store is down the core stays on the node; it is uploaded once the store is back", async () => {
  const dir = await scratch();
  let s3 = await startS3Server(dir);
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({ corefileDir, s3Endpoint: s3.endpoint });
  try {
    await s3.kill();
    await Deno.mkdir(`${corefileDir}/ns/pod-1/app`, { recursive: true });
    const path = `${corefileDir}/ns/pod-1/app/core.1`;
    await Deno.writeTextFile(path, "core during an outage");
    await waitFor("a failed attempt", () => test.watcher.metrics.uploadFailures.get() >= 2);
    assert.ok(await exists(path), "the core is kept while the store is down");
    assert.equal(test.messages.length, 0);
    assert.ok(test.logs.some((l) => l.includes("could not store core; the file is kept and will be retried")));

    s3 = await startS3Server(dir, { port: s3.port });
    await waitFor("the upload after recovery", async () => !(await exists(path)), 30_000);
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 1);
    await waitFor("the message", () => test.messages.length === 1);
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed verification keeps the local core and sends no message", async () => {
  const dir = await scratch();
  const s3 = await startS3Server(dir);
  const corefileDir = `${dir}/dumps`;
  // The real store, but HEAD answers a size that does not match what was sent.
  const lying = (storage: Storage): Storage => ({
    ...storage,
    size: async (key) => ((await storage.size(key)) ?? 0) - 1,
  });
  const test = await startTestWatcher({ corefileDir, s3Endpoint: s3.endpoint, wrapStorage: lying });
  try {
    await Deno.mkdir(`${corefileDir}/ns/pod-1/app`, { recursive: true });
    const path = `${corefileDir}/ns/pod-1/app/core.1`;
    await Deno.writeTextFile(path, "core that fails verification");
    await waitFor(
      "a failed verification",
      () => test.logs.some((l) => l.includes("verification failed for corefiles/ns/pod-1/app/")),
    );
    assert.ok(await exists(path));
    assert.equal(test.messages.length, 0);
    assert.equal(test.watcher.metrics.coresUploaded.get(), 0);
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
