/**
 * Nothing lost when things fail: the store going down in the middle of a
 * multipart upload, the watcher SIGKILLed in the middle of an upload, a
 * full disk, two watchers on one root, the Kubernetes API unreachable.
 * Every scenario runs real processes (S3 server, watcher) and prints a row
 * of the table at the end, with the bytes of cores lost.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { systemClock } from "../src/notify/clock.ts";
import { KubeClient } from "../src/kube/client.ts";
import { fakeSlack, textReply } from "./support/fake_chat_apis.ts";
import { exists, listTree, startTestWatcher, waitFor } from "./support/harness.ts";
import { getBytes, listKeys, testS3Client } from "./support/s3_client.ts";
import { startS3Server } from "./support/s3_server.ts";
import { randomBytes } from "./support/random_bytes.ts";
import { ScenarioTable } from "./support/scenario_table.ts";
import { startWatcherProcess } from "./support/watcher_process.ts";

const table = new ScenarioTable("Fault suite");
const MiB = 1024 * 1024;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Raw bytes recorded in the metadata objects of the bucket, by sha256. */
async function storedCores(endpoint: string): Promise<Map<string, number>> {
  const client = testS3Client(endpoint);
  const stored = new Map<string, number>();
  for (const key of (await listKeys(client)).filter((k) => k.endsWith(".json"))) {
    const record = JSON.parse(new TextDecoder().decode(await getBytes(client, key)));
    stored.set(record.corefile.sha256, record.corefile.rawBytes);
  }
  return stored;
}

Deno.test("fault: the S3 server dies in the middle of a multipart upload and comes back later", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  let s3 = await startS3Server(dir);
  const root = `${dir}/dumps`;
  const test = await startTestWatcher({ root, s3Endpoint: s3.endpoint });
  try {
    const core = randomBytes(48 * MiB);
    const path = `${root}/shop/checkout-5d8f-q7x2k/app/core.checkout.1`;
    await Deno.mkdir(`${root}/shop/checkout-5d8f-q7x2k/app`, { recursive: true });
    await Deno.writeFile(path, core);
    await waitFor("the upload to start", () => test.watcher.metrics.bytesRead.get() >= 16 * MiB, 30_000);
    await s3.kill();
    const downAt = Date.now();
    await waitFor(
      "failed attempts while the store is down",
      () => test.watcher.metrics.uploadFailures.get() >= 3,
      60_000,
    );
    assert.ok(await exists(path), "the core stays on the node while the store is down");
    assert.equal(test.messages.length, 0);
    s3 = await startS3Server(dir, { port: s3.port });
    const downSeconds = (Date.now() - downAt) / 1000;
    await waitFor("the upload after the store is back", async () => !(await exists(path)), 60_000);
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 1, keys.join(", "));
    const stored = await storedCores(s3.endpoint);
    assert.equal(stored.get(sha256(core)), core.length, "the stored core is the whole core");
    await waitFor("the message", () => test.messages.length === 1);
    table.add({
      scenario: "S3 down mid-multipart upload",
      outcome: "kept on node, stored once after recovery",
      figures: `48 MiB core, store down ${
        downSeconds.toFixed(1)
      } s, ${test.watcher.metrics.uploadFailures.get()} failed attempts`,
      bytesLost: core.length - (stored.get(sha256(core)) ?? 0),
    });
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault: the watcher is SIGKILLed in the middle of an upload and restarted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  const s3 = await startS3Server(dir);
  const root = `${dir}/dumps`;
  const options = { root, s3Endpoint: s3.endpoint };
  let watcher = await startWatcherProcess(`${dir}/coredog.yaml`, options);
  try {
    await watcher.waitForLine(/msg="initial scan complete; watching"/);
    const core = randomBytes(64 * MiB);
    const path = `${root}/shop/payments-0/app/core.payments.1`;
    await Deno.mkdir(`${root}/shop/payments-0/app`, { recursive: true });
    await Deno.writeFile(path, core);
    await waitFor(
      "the upload to be under way",
      async () => await watcher.metric("coredog_bytes_read_total") >= 24 * MiB,
      30_000,
    );
    watcher.kill("SIGKILL");
    await watcher.status;
    assert.ok(await exists(path), "the core is still on the node after the kill");

    watcher = await startWatcherProcess(`${dir}/coredog.yaml`, options);
    // s3rver cannot list multipart uploads (it fails signed bucket requests), so here the cleanup is
    // reported as failed and kept for the next start; storage_cleanup_test.ts covers the S3 calls.
    await watcher.waitForLine(
      /msg="(cleaned up an upload interrupted|cannot clean up an upload interrupted|cleaning up an interrupted upload failed)/,
    );
    await watcher.waitForLine(new RegExp(`msg="deleted local corefile: ${path}"`), 60_000);
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 1, `exactly one object: ${keys.join(", ")}`);
    const stored = await storedCores(s3.endpoint);
    assert.equal(stored.get(sha256(core)), core.length);
    table.add({
      scenario: "watcher SIGKILLed mid-upload (S3)",
      outcome: "uploaded after restart, exactly one object",
      figures: "64 MiB core, killed after 24 MiB read",
      bytesLost: core.length - (stored.get(sha256(core)) ?? 0),
    });
  } finally {
    watcher.kill("SIGTERM");
    await watcher.status;
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault: a watcher killed while writing to a directory store leaves no partial file after its restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  const root = `${dir}/dumps`;
  // gzip at level 9 is slow enough to be caught in the middle.
  const options = { root, localDir: `${dir}/bucket`, storageYaml: ["Compression: gzip", "CompressionLevel: 9"] };
  let watcher = await startWatcherProcess(`${dir}/coredog.yaml`, options);
  try {
    await watcher.waitForLine(/msg="initial scan complete; watching"/);
    const core = randomBytes(96 * MiB);
    const path = `${root}/shop/cart-1/app/core.cart.1`;
    await Deno.mkdir(`${root}/shop/cart-1/app`, { recursive: true });
    await Deno.writeFile(path, core);
    await waitFor(
      "a partial object",
      async () => (await listTree(`${dir}/bucket`)).some((f) => f.includes(".partial-")),
      30_000,
    );
    watcher.kill("SIGKILL");
    await watcher.status;

    watcher = await startWatcherProcess(`${dir}/coredog.yaml`, options);
    await watcher.waitForLine(/msg="cleaned up an upload interrupted by a restart" .*aborted=1/);
    await watcher.waitForLine(new RegExp(`msg="deleted local corefile: ${path}"`), 60_000);
    const files = await listTree(`${dir}/bucket`);
    assert.deepEqual(files.filter((f) => f.includes(".partial-")), [], "no partial file is left");
    assert.equal(files.filter((f) => f.endsWith(".core.gz")).length, 1);
    table.add({
      scenario: "watcher SIGKILLed mid-write (directory store)",
      outcome: "partial file removed, core stored once",
      figures: "96 MiB core, 1 partial file cleaned",
      bytesLost: 0,
    });
  } finally {
    watcher.kill("SIGTERM");
    await watcher.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault: a chat API answering 429 and 5xx delays messages, never uploads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  const s3 = await startS3Server(dir);
  const slack = fakeSlack(systemClock);
  const tooFast = () => textReply("rate_limited", { status: 429, headers: { "retry-after": "1" } });
  const down = () => textReply("upstream connect error", { status: 503 });
  slack.script(tooFast, tooFast, tooFast, down, down);
  const root = `${dir}/dumps`;
  const test = await startTestWatcher({
    root,
    s3Endpoint: s3.endpoint,
    noticeChannels: true,
    topYaml: ["NoticeChannel:", `  - chan: slack\n    webhookurl: "${slack.url}"`, "Notify:", "  RetryMaxSeconds: 1"],
  });
  try {
    for (let i = 0; i < 3; i++) {
      await Deno.mkdir(`${root}/shop/api-${i}/app`, { recursive: true });
      await Deno.writeTextFile(`${root}/shop/api-${i}/app/core.api.${i}`, `core ${i} `.repeat(100));
    }
    await waitFor("three uploads", () => test.watcher.metrics.coresUploaded.get() === 3);
    await waitFor("three messages accepted", () => slack.accepted.length === 3, 60_000);
    table.add({
      scenario: "chat API answers 429 then 503",
      outcome: "uploads unaffected, all messages delivered",
      figures: `3 cores, ${slack.received.length - slack.accepted.length} refusals (3× 429, 2× 503)`,
      bytesLost: 0,
    });
  } finally {
    await test.stop();
    await slack.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault: with the Kubernetes API unreachable, cores are stored with what the path tells", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  const s3 = await startS3Server(dir);
  await Deno.writeTextFile(`${dir}/token`, "token");
  // Nothing listens on port 9: every API call fails to connect.
  const kube = new KubeClient({ apiUrl: "https://127.0.0.1:9", tokenPath: `${dir}/token`, timeoutMs: 1000 });
  const root = `${dir}/dumps`;
  const test = await startTestWatcher({ root, s3Endpoint: s3.endpoint, kube });
  try {
    const bytes = new TextEncoder().encode("core while the API is down ".repeat(1000));
    await Deno.mkdir(`${root}/shop/search-2/app`, { recursive: true });
    await Deno.writeFile(`${root}/shop/search-2/app/core.search.1`, bytes);
    await waitFor("the upload", () => test.watcher.metrics.coresUploaded.get() === 1);
    const stored = await storedCores(s3.endpoint);
    assert.equal(stored.get(sha256(bytes)), bytes.length);
    await waitFor("the message", () => test.messages.length === 1);
    assert.match(test.messages[0], /\[shop\/search-2\] core: core\.search\.1/);
    table.add({
      scenario: "Kubernetes API unreachable",
      outcome: "stored and notified with path facts",
      figures: "1 core, API problem recorded in metadata",
      bytesLost: bytes.length - (stored.get(sha256(bytes)) ?? 0),
    });
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault: a second watcher on the same dump root waits; nothing is uploaded twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  const s3 = await startS3Server(dir);
  const root = `${dir}/dumps`;
  const first = await startWatcherProcess(`${dir}/first.yaml`, { root, s3Endpoint: s3.endpoint });
  await first.waitForLine(/msg="initial scan complete; watching"/);
  const second = await startWatcherProcess(`${dir}/second.yaml`, { root, s3Endpoint: s3.endpoint });
  try {
    await second.waitForLine(/msg="another watcher is running on this dump root; waiting until it stops"/);
    const written = new Map<string, number>();
    for (let i = 0; i < 5; i++) {
      const bytes = new TextEncoder().encode(`core number ${i} `.repeat(200));
      await Deno.mkdir(`${root}/shop/web-${i}/app`, { recursive: true });
      await Deno.writeFile(`${root}/shop/web-${i}/app/core.web.${i}`, bytes);
      written.set(sha256(bytes), bytes.length);
    }
    await waitFor(
      "five uploads by the first watcher",
      async () => (await first.metric("coredog_cores_uploaded_total")) === 5,
    );
    assert.equal(await second.metric("coredog_cores_uploaded_total"), 0, "the waiting watcher uploads nothing");
    first.kill("SIGTERM");
    await first.status;
    await second.waitForLine(/msg="took over the dump root"/);
    const late = new TextEncoder().encode("core after the takeover ".repeat(200));
    await Deno.mkdir(`${root}/shop/web-9/app`, { recursive: true });
    await Deno.writeFile(`${root}/shop/web-9/app/core.web.9`, late);
    written.set(sha256(late), late.length);
    await waitFor(
      "the upload by the second watcher",
      async () => (await second.metric("coredog_cores_uploaded_total")) === 1,
    );
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 6, keys.join(", "));
    const stored = await storedCores(s3.endpoint);
    let lost = 0;
    for (const [hash, size] of written) lost += size - (stored.get(hash) ?? 0);
    assert.equal(lost, 0);
    table.add({
      scenario: "two watchers on one dump root",
      outcome: "second waits, takes over when the first stops",
      figures: "6 cores, 6 objects (none twice)",
      bytesLost: lost,
    });
  } finally {
    first.kill("SIGTERM");
    second.kill("SIGTERM");
    await first.status;
    await second.status;
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault suite: the table", () => {
  table.print();
});
