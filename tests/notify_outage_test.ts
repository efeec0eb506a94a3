/**
 * A real watcher, a real S3 server and chat servers that are down: cores
 * are stored while every message waits, and the messages arrive once the
 * chat APIs are back. A crash-looping container still has every core
 * stored while it gets one message and a digest.
 */

import assert from "node:assert/strict";
import { systemClock } from "../src/notify/clock.ts";
import { fakeReceiver, fakeWecom, textReply } from "./support/fake_chat_apis.ts";
import { startTestWatcher, waitFor } from "./support/harness.ts";
import { listKeys, testS3Client } from "./support/s3_client.ts";
import { startS3Server } from "./support/s3_server.ts";

/** Bytes that are not an ELF core: the watcher stores them all the same. */
const NOT_A_CORE = new TextEncoder().encode("not an ELF core, but a file in CorefileDir\n".repeat(200));

Deno.test("outage: cores are uploaded while the chat APIs fail; the messages arrive when they recover", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-outage-" });
  const s3 = await startS3Server(dir);
  const wecom = fakeWecom(systemClock);
  wecom.override(() => textReply("upstream connect error or disconnect/reset before headers", { status: 503 }));
  const receiver = fakeReceiver(systemClock);
  await receiver.stop();
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({
    corefileDir,
    s3Endpoint: s3.endpoint,
    noticeChannels: true,
    topYaml: [
      "NoticeChannel:",
      `  - chan: wechat\n    webhookurl: "${wecom.url}"`,
      `  - chan: webhook\n    webhookurl: "${receiver.url}"`,
      "Notify:",
      "  RetryMaxSeconds: 1",
    ],
  });
  try {
    for (let i = 0; i < 3; i++) {
      const podDir = `${corefileDir}/team-a/api-${i}/app`;
      await Deno.mkdir(podDir, { recursive: true });
      await Deno.writeFile(`${podDir}/core.api.${100 + i}`, NOT_A_CORE);
    }
    await waitFor("three uploads", () => test.watcher.metrics.coresUploaded.get() === 3);
    await waitFor(
      "failed attempts at both APIs",
      () => wecom.received.length >= 3 && test.logs.some((l) => l.includes("webhook#1") && l.includes("retrying")),
    );
    assert.equal(wecom.accepted.length, 0);
    assert.equal(receiver.accepted.length, 0);
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 3, keys.join(", "));
    assert.equal(test.messages.length, 3, "the console channel was not held up by the others");

    wecom.override(undefined);
    receiver.restart();
    await waitFor(
      "every message after the recovery",
      () => wecom.accepted.length === 3 && receiver.accepted.length === 3,
    );
    const pods = receiver.accepted.map((r) => r.json.record.pod.name).sort();
    assert.deepEqual(pods, ["api-0", "api-1", "api-2"]);
    assert.ok(wecom.accepted.every((r) => r.json.markdown.content.includes("download: http://127.0.0.1:")));

    const retries = test.logs.filter((l) => l.includes('msg="notification not accepted; retrying"'));
    assert.ok(
      retries.some((l) => l.includes('error="HTTP 503: upstream connect error or disconnect/reset before headers"')),
    );
    assert.ok(retries.some((l) => l.includes("Connection refused")));
    assert.ok(!test.logs.some((l) => l.includes('msg="notification failed"')), "nothing was given up");
    assert.equal(test.watcher.metrics.uploadFailures.get(), 0);
  } finally {
    await test.stop();
    await wecom.stop();
    await receiver.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("crash loop in a real watcher: every core is stored; one message at once, the repeats in a digest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-loop-" });
  const s3 = await startS3Server(dir);
  const receiver = fakeReceiver(systemClock);
  const corefileDir = `${dir}/dumps`;
  const test = await startTestWatcher({
    corefileDir,
    s3Endpoint: s3.endpoint,
    noticeChannels: true,
    topYaml: ["NoticeChannel:", `  - chan: webhook\n    webhookurl: "${receiver.url}"`],
  });
  let stopped = false;
  try {
    const podDir = `${corefileDir}/team-a/api-0/app`;
    await Deno.mkdir(podDir, { recursive: true });
    for (let i = 0; i < 5; i++) {
      await Deno.writeFile(`${podDir}/core.api.${200 + i}`, NOT_A_CORE);
      await waitFor(`upload ${i + 1}`, () => test.watcher.metrics.coresUploaded.get() === i + 1);
    }
    await waitFor("the first message", () => receiver.accepted.length === 1);
    await test.watcher.dispatcher.idle();
    assert.equal(receiver.accepted.length, 1, "the repeats wait for the digest");
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 5, "every core is stored");

    await test.stop();
    stopped = true;
    assert.equal(receiver.accepted.length, 2, "stopping the watcher sends the open digest");
    const digest = receiver.accepted[1].json;
    assert.equal(digest.event, "crash_loop");
    assert.equal(digest.digest.count, 4);
    assert.match(digest.text, /^\[team-a\/api-0\] container app, unknown: crashed 4 more times in the last minute\n/);
  } finally {
    if (!stopped) await test.stop();
    await receiver.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
