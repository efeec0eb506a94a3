/**
 * Nothing lost when things fail: the store going down in the middle of a
 * multipart upload, the watcher SIGKILLed in the middle of an upload, a
 * full store (a directory store on a small tmpfs; skipped with the reason
 * where mounting is not allowed), two watchers on one corefileDir, the Kubernetes
 * API unreachable. Every scenario runs real processes (S3 server, watcher)
 * and adds a row to the table printed at the end, with the bytes of cores
 * lost measured from what was written and what the store holds.
 */

import assert from "node:assert/strict";
import { systemClock } from "../src/notify/clock.ts";
import { KubeClient } from "../src/kube/client.ts";
import { fakeSlack, textReply } from "./support/fake_chat_apis.ts";
import { exists, listTree, startTestWatcher, waitFor } from "./support/harness.ts";
import { exitWithin } from "./support/process.ts";
import { listKeys, testS3Client } from "./support/s3_client.ts";
import { startS3Server } from "./support/s3_server.ts";
import { randomBytes } from "./support/random_bytes.ts";
import { coresInBucket, coresInDirectory, digestOf, measureLoss, ScenarioTable } from "./support/scenario_table.ts";
import { cannotMountReason, mountSmallFileSystem, unmount } from "./support/small_fs.ts";
import { startWatcherProcess } from "./support/watcher_process.ts";

const table = new ScenarioTable("Fault suite");
const MiB = 1024 * 1024;
const cannotMount = await cannotMountReason();
if (cannotMount) console.warn(`SKIPPING the full-store scenario: cannot mount a small tmpfs here (${cannotMount})`);

Deno.test("fault: the S3 server dies in the middle of a multipart upload and comes back later", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  let s3 = await startS3Server(dir);
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({ corefileDir, s3Endpoint: s3.endpoint });
  try {
    const core = randomBytes(48 * MiB);
    const path = `${corefileDir}/shop/checkout-5d8f-q7x2k/app/core.checkout.1`;
    await Deno.mkdir(`${corefileDir}/shop/checkout-5d8f-q7x2k/app`, { recursive: true });
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
    await waitFor("the message", () => test.messages.length === 1);
    table.add({
      scenario: "S3 down mid-multipart upload",
      outcome: "kept on node, stored once after recovery",
      figures: `48 MiB core, store down ${
        downSeconds.toFixed(1)
      } s, ${test.watcher.metrics.uploadFailures.get()} failed attempts`,
      loss: measureLoss([digestOf(core)], await coresInBucket(s3.endpoint)),
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
  const corefileDir = `${dir}/dumps`;
  const options = { corefileDir, s3Endpoint: s3.endpoint };
  let watcher = await startWatcherProcess(`${dir}/coredog.yaml`, options);
  try {
    await watcher.waitForLine(/msg="initial scan complete; watching"/);
    const core = randomBytes(64 * MiB);
    const path = `${corefileDir}/shop/payments-0/app/core.payments.1`;
    await Deno.mkdir(`${corefileDir}/shop/payments-0/app`, { recursive: true });
    await Deno.writeFile(path, core);
    await waitFor(
      "the upload to be under way",
      async () => await watcher.metric("coredog_bytes_read_total") >= 24 * MiB,
      30_000,
    );
    watcher.kill("SIGKILL");
    await exitWithin(watcher);
    assert.ok(await exists(path), "the core is still on the node after the kill");

    watcher = await startWatcherProcess(`${dir}/coredog.yaml`, options);
    // s3rver answers a signed ListMultipartUploads with an error, so the multipart upload the kill
    // interrupted cannot be found: the watcher must say so, not claim a cleanup.
    // storage_cleanup_test.ts covers the listing and the abort against the shapes the S3 API
    // documents.
    const cleanup = await watcher.waitForLine(/msg="(cleaned up|cannot clean up|cleaning up) an (upload )?interrupted/);
    assert.match(cleanup, /msg="cleaning up an interrupted upload failed; trying again at the next start"/);
    assert.match(cleanup, /key=corefiles\/shop\/payments-0\/app\/\S+\.core\.zst/);
    await watcher.waitForLine(new RegExp(`msg="deleted local corefile: ${path}"`), 60_000);
    const keys = await listKeys(testS3Client(s3.endpoint));
    const objects = keys.filter((k) => k.endsWith(".core.zst"));
    assert.equal(objects.length, 1, `exactly one object: ${keys.join(", ")}`);
    assert.ok(cleanup.includes(`key=${objects[0]}`), `the cleanup names the object's key: ${cleanup}`);
    // The re-upload set and cleared its own mark; the interrupted upload is still kept for the next start.
    const kept = [];
    for await (const entry of Deno.readDir(`${corefileDir}/.coredog/cleanup`)) {
      kept.push(JSON.parse(await Deno.readTextFile(`${corefileDir}/.coredog/cleanup/${entry.name}`)).key);
    }
    assert.deepEqual(kept, [objects[0]], "the failed cleanup is retried at the next start");
    table.add({
      scenario: "watcher SIGKILLed mid-upload (S3)",
      outcome: "uploaded once after restart; cleanup of the interrupted upload reported as failed",
      figures: "64 MiB core, killed after 24 MiB read",
      loss: measureLoss([digestOf(core)], await coresInBucket(s3.endpoint)),
    });
  } finally {
    watcher.kill("SIGTERM");
    await exitWithin(watcher);
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault: a watcher killed while writing to a directory store leaves no partial file after its restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  const corefileDir = `${dir}/dumps`;
  // gzip at level 9 is slow enough to be caught in the middle.
  const options = { corefileDir, localDir: `${dir}/bucket`, storageYaml: ["Compression: gzip", "CompressionLevel: 9"] };
  let watcher = await startWatcherProcess(`${dir}/coredog.yaml`, options);
  try {
    await watcher.waitForLine(/msg="initial scan complete; watching"/);
    const core = randomBytes(96 * MiB);
    const path = `${corefileDir}/shop/cart-1/app/core.cart.1`;
    await Deno.mkdir(`${corefileDir}/shop/cart-1/app`, { recursive: true });
    await Deno.writeFile(path, core);
    await waitFor(
      "a partial object",
      async () => (await listTree(`${dir}/bucket`)).some((f) => f.includes(".partial-")),
      30_000,
    );
    watcher.kill("SIGKILL");
    await exitWithin(watcher);

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
      loss: measureLoss([digestOf(core)], await coresInDirectory(`${dir}/bucket`)),
    });
  } finally {
    watcher.kill("SIGTERM");
    await exitWithin(watcher);
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
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({
    corefileDir,
    s3Endpoint: s3.endpoint,
    noticeChannels: true,
    topYaml: ["NoticeChannel:", `  - chan: slack\n    webhookurl: "${slack.url}"`, "Notify:", "  RetryMaxSeconds: 1"],
  });
  try {
    const written = [];
    for (let i = 0; i < 3; i++) {
      const bytes = new TextEncoder().encode(`core ${i} `.repeat(100));
      written.push(digestOf(bytes));
      await Deno.mkdir(`${corefileDir}/shop/api-${i}/app`, { recursive: true });
      await Deno.writeFile(`${corefileDir}/shop/api-${i}/app/core.api.${i}`, bytes);
    }
    await waitFor("three uploads", () => test.watcher.metrics.coresUploaded.get() === 3);
    await waitFor("three messages accepted", () => slack.accepted.length === 3, 60_000);
    table.add({
      scenario: "chat API answers 429 then 503",
      outcome: "uploads unaffected, all messages delivered",
      figures: `3 cores, ${slack.received.length - slack.accepted.length} refusals (3× 429, 2× 503)`,
      loss: measureLoss(written, await coresInBucket(s3.endpoint)),
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
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({ corefileDir, s3Endpoint: s3.endpoint, kube });
  try {
    const bytes = new TextEncoder().encode("core while the API is down ".repeat(1000));
    await Deno.mkdir(`${corefileDir}/shop/search-2/app`, { recursive: true });
    await Deno.writeFile(`${corefileDir}/shop/search-2/app/core.search.1`, bytes);
    await waitFor("the upload", () => test.watcher.metrics.coresUploaded.get() === 1);
    await waitFor("the message", () => test.messages.length === 1);
    assert.match(test.messages[0], /\[shop\/search-2\] core: core\.search\.1/);
    table.add({
      scenario: "Kubernetes API unreachable",
      outcome: "stored and notified with path facts",
      figures: "1 core, API problem recorded in metadata",
      loss: measureLoss([digestOf(bytes)], await coresInBucket(s3.endpoint)),
    });
  } finally {
    await test.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fault: a second watcher on the same CorefileDir waits; nothing is uploaded twice", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
  const s3 = await startS3Server(dir);
  const corefileDir = `${dir}/dumps`;
  const first = await startWatcherProcess(`${dir}/first.yaml`, { corefileDir, s3Endpoint: s3.endpoint });
  await first.waitForLine(/msg="initial scan complete; watching"/);
  const second = await startWatcherProcess(`${dir}/second.yaml`, { corefileDir, s3Endpoint: s3.endpoint });
  try {
    await second.waitForLine(/msg="another watcher is running on CorefileDir; waiting until it stops"/);
    const written = [];
    for (let i = 0; i < 5; i++) {
      const bytes = new TextEncoder().encode(`core number ${i} `.repeat(200));
      await Deno.mkdir(`${corefileDir}/shop/web-${i}/app`, { recursive: true });
      await Deno.writeFile(`${corefileDir}/shop/web-${i}/app/core.web.${i}`, bytes);
      written.push(digestOf(bytes));
    }
    await waitFor(
      "five uploads by the first watcher",
      async () => (await first.metric("coredog_cores_uploaded_total")) === 5,
    );
    assert.equal(await second.metric("coredog_cores_uploaded_total"), 0, "the waiting watcher uploads nothing");
    first.kill("SIGTERM");
    await exitWithin(first);
    await second.waitForLine(/msg="took over CorefileDir"/);
    const late = new TextEncoder().encode("core after the takeover ".repeat(200));
    await Deno.mkdir(`${corefileDir}/shop/web-9/app`, { recursive: true });
    await Deno.writeFile(`${corefileDir}/shop/web-9/app/core.web.9`, late);
    written.push(digestOf(late));
    await waitFor(
      "the upload by the second watcher",
      async () => (await second.metric("coredog_cores_uploaded_total")) === 1,
    );
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 6, keys.join(", "));
    table.add({
      scenario: "two watchers on one CorefileDir",
      outcome: "second waits, takes over when the first stops",
      figures: "6 cores, 6 objects (none twice)",
      loss: measureLoss(written, await coresInBucket(s3.endpoint)),
    });
  } finally {
    first.kill("SIGTERM");
    second.kill("SIGTERM");
    await exitWithin(first);
    await exitWithin(second);
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "fault: a full directory store keeps the core on the node and stores it once there is room",
  ignore: cannotMount !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-fault-" });
    const corefileDir = `${dir}/dumps`;
    const bucket = `${dir}/bucket`;
    await mountSmallFileSystem(bucket, 4);
    const filler = `${bucket}/filler`;
    await Deno.writeFile(filler, randomBytes(2 * MiB));
    const test = await startTestWatcher({ corefileDir, localDir: bucket, storageYaml: ["Compression: none"] });
    try {
      const core = randomBytes(3 * MiB);
      const path = `${corefileDir}/shop/orders-1/app/core.orders.1`;
      await Deno.mkdir(`${corefileDir}/shop/orders-1/app`, { recursive: true });
      await Deno.writeFile(path, core);
      await waitFor("failed attempts while the store is full", () => test.watcher.metrics.uploadFailures.get() >= 2);
      const full = test.logs.find((l) => l.includes("could not store core; the file is kept and will be retried"))!;
      assert.match(full, /ENOSPC|no space left/i, full);
      assert.ok(await exists(path), "the core stays on the node while the store is full");
      assert.deepEqual((await listTree(bucket)).filter((f) => f !== "filler"), [], "no partial object is left");
      assert.equal(test.messages.length, 0, "nothing is reported as stored");
      const failures = test.watcher.metrics.uploadFailures.get();
      await Deno.remove(filler);
      await waitFor("the core stored once there is room", async () => !(await exists(path)), 30_000);
      assert.equal((await listTree(bucket)).filter((f) => f.endsWith(".core")).length, 1);
      await waitFor("the message", () => test.messages.length === 1);
      table.add({
        scenario: "directory store full (ENOSPC)",
        outcome: "kept on node, retried, stored once there was room",
        figures: `3 MiB core, 4 MiB store with 2 MiB used, ${failures} failed attempts`,
        loss: measureLoss([digestOf(core)], await coresInDirectory(bucket)),
      });
    } finally {
      await test.stop();
      await unmount(bucket);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("fault suite: the table", () => {
  table.finish([
    "S3 down mid-multipart upload",
    "watcher SIGKILLed mid-upload (S3)",
    "watcher SIGKILLed mid-write (directory store)",
    "chat API answers 429 then 503",
    "Kubernetes API unreachable",
    "two watchers on one CorefileDir",
    ...(cannotMount ? [] : ["directory store full (ENOSPC)"]),
  ]);
});
