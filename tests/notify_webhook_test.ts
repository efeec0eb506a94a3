/**
 * The generic `webhook` channel against a local receiver: the full record,
 * headers and HMAC signature; retries on 5xx, slow answers and refused
 * connections; giving up after the configured time.
 */

import assert from "node:assert/strict";
import { sampleRecord } from "./support/crash_records.ts";
import { fakeReceiver, hmacHex, textReply } from "./support/fake_chat_apis.ts";
import { channelYaml, testDispatcher } from "./support/notify_setup.ts";
import { VirtualClock } from "./support/virtual_clock.ts";

Deno.test("webhook: POSTs the full crash record as JSON with event, delivery id, extra headers and an HMAC-SHA256 signature", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock, { secret: "s3cr3t" });
  const yaml = [
    "NoticeChannel:",
    "  - chan: webhook",
    `    webhookurl: "${api.url}"`,
    "    secret: s3cr3t",
    "    headers:",
    "      Authorization: Bearer abc123",
    "      Content-Type: text/plain",
    "      X-Team: sre",
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  try {
    const record = sampleRecord();
    test.dispatcher.publish(record);
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 1, "the receiver verified the signature");
    const request = api.received[0];
    assert.equal(request.headers.get("x-coredog-signature"), `sha256=${await hmacHex("s3cr3t", request.raw)}`);
    assert.equal(request.headers.get("authorization"), "Bearer abc123");
    assert.equal(request.headers.get("x-team"), "sre");
    assert.equal(request.headers.get("content-type"), "application/json; charset=utf-8", "not joined with the user's");
    assert.equal(request.headers.get("x-coredog-event"), "core_dump");
    assert.equal(request.headers.get("x-coredog-delivery"), record.id);
    assert.match(request.headers.get("user-agent")!, /^CoreDog\/\d+\.\d+\.\d+$/);
    assert.deepEqual(Object.keys(request.json), ["event", "text", "record"]);
    assert.equal(request.json.event, "core_dump");
    assert.deepEqual(request.json.record, JSON.parse(JSON.stringify(record)), "the whole record, link included");
    assert.match(request.json.text, /^\[team-a\/web-7d9f8c6b5-x2x4q\] core: core\.server\.42\n/);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("webhook: a wrong secret gets 401, which is final", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock, { secret: "s3cr3t" });
  const test = testDispatcher(channelYaml({ chan: "webhook", webhookurl: api.url, secret: "other" }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.received.length, 1);
    assert.match(
      test.logs.find((l) => l.includes('msg="notification failed"'))!,
      /error="webhook HTTP 401: bad signature"/,
    );
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("webhook: a slow answer times out and is retried; the same delivery id marks the duplicate", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock);
  api.script(async () => {
    await new Promise((r) => setTimeout(r, 1500));
    return textReply("too late", { status: 200 });
  });
  const test = testDispatcher(
    channelYaml({ chan: "webhook", webhookurl: api.url }, ["Notify:", "  RequestTimeoutSeconds: 1"]),
    clock,
  );
  try {
    test.dispatcher.publish(sampleRecord());
    await test.simulate(() => api.accepted.length === 1);
    await test.dispatcher.idle();
    assert.equal(api.received.length, 2);
    assert.equal(api.received[0].headers.get("x-coredog-delivery"), api.received[1].headers.get("x-coredog-delivery"));
    assert.match(test.logs.find((l) => l.includes("retrying"))!, /error="no answer within 1000 ms"/);
    assert.equal(test.count("sent"), 1);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("webhook: a refused connection is retried until the receiver is back; the URL's token stays out of the log", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock);
  await api.stop();
  const test = testDispatcher(channelYaml({ chan: "webhook", webhookurl: `${api.url}?token=tok-77aa` }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    const retries = () => test.logs.filter((l) => l.includes("retrying")).length;
    await test.simulate(() => retries() >= 3);
    api.restart();
    await test.simulate(() => api.accepted.length === 1);
    await test.dispatcher.idle();
    assert.equal(test.count("sent"), 1);
    const warning = test.logs.find((l) => l.includes("retrying"))!;
    assert.match(warning, /error=".*http:\/\/127\.0\.0\.1:\d+\/\.\.\./);
    assert.ok(!test.logs.some((l) => l.includes("tok-77aa") || l.includes("/hooks/coredog")), test.logs.join("\n"));
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("webhook: still failing at GiveUpAfterMinutes, the message is given up with the API's text and a metric", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock);
  api.override(() => textReply("maintenance until 10:00", { status: 503 }));
  const test = testDispatcher(
    channelYaml({ chan: "webhook", webhookurl: api.url }, [
      "Notify:",
      "  GiveUpAfterMinutes: 5",
      "  RetryMaxSeconds: 60",
    ]),
    clock,
  );
  try {
    const published = clock.now();
    test.dispatcher.publish(sampleRecord());
    await test.simulate(() => test.count("failed") === 1);
    await test.dispatcher.idle();
    const last = api.received[api.received.length - 1].at;
    assert.ok(last <= published + 5 * 60_000, "no attempt after the give-up time");
    assert.ok(last > published + 4 * 60_000, "but it kept trying until close to it");
    assert.ok(api.received.length >= 7, `${api.received.length} attempts`);
    const error = test.logs.find((l) => l.includes('msg="notification failed"'))!;
    assert.match(error, /level=error/);
    assert.match(error, /error="webhook HTTP 503: maintenance until 10:00"/);
    assert.match(error, /reason="still failing after \d+ attempts; the give-up time is reached"/);
    assert.equal(test.metrics.failed.get({ channel: "webhook#0" }), 1);

    api.override(undefined);
    test.dispatcher.publish(
      sampleRecord({ id: "f".repeat(32), pod: { workload: { kind: "StatefulSet", name: "db" } } }),
    );
    await test.dispatcher.idle();
    assert.equal(test.count("sent"), 1, "the channel works on after giving up");
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("webhook: at shutdown a failing message gets one last attempt, then is left for the restart", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock);
  api.override(() => textReply("down", { status: 500 }));
  const test = testDispatcher(channelYaml({ chan: "webhook", webhookurl: api.url }), clock);
  try {
    const settled = test.dispatcher.publish(sampleRecord());
    await test.simulate(() => api.received.length === 2);
    await test.dispatcher.drain();
    assert.equal(api.received.length, 3, "the wait for the third attempt was cut short");
    assert.equal(await settled, false, "the caller learns the message still has to be sent");
    assert.ok(
      test.logs.some((l) =>
        l.includes("notification not delivered before shutdown; it is sent again after the restart")
      ),
    );
    assert.ok(
      !test.logs.some((l) => l.includes('msg="notification failed"')),
      "an interrupted message is not given up",
    );
    assert.equal(clock.sleepers, 0);
  } finally {
    await api.stop();
  }
});
