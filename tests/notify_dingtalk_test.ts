/**
 * The `dingtalk` channel against a local server that answers like a
 * DingTalk custom robot, including its signature check.
 */

import assert from "node:assert/strict";
import { DINGTALK_LIMIT_BYTES } from "../src/notify/dingtalk.ts";
import { TRUNCATION_MARKER, utf8Bytes } from "../src/core/text_limit.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { dingtalkExpectedSign, fakeDingtalk, jsonReply } from "./support/fake_chat_apis.ts";
import { channelYaml, testDispatcher } from "./support/notify_setup.ts";
import { VirtualClock } from "./support/virtual_clock.ts";

const SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

Deno.test("dingtalk: a signed text message; timestamp and sign are in the query as documented", async () => {
  const clock = new VirtualClock();
  const api = fakeDingtalk(clock, { secret: SECRET });
  const test = testDispatcher(channelYaml({ chan: "dingtalk", webhookurl: api.url, secret: SECRET }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 1, JSON.stringify(api.received.map((r) => r.url.search)));
    const request = api.received[0];
    assert.equal(request.url.searchParams.get("access_token"), "test-token");
    const timestamp = request.url.searchParams.get("timestamp")!;
    assert.equal(timestamp, String(clock.now()), "milliseconds");
    assert.equal(request.url.searchParams.get("sign"), await dingtalkExpectedSign(SECRET, timestamp));
    assert.match(request.url.search, /&sign=[A-Za-z0-9%]+$/, "the base64 sign is URL-encoded");
    assert.deepEqual(Object.keys(request.json), ["msgtype", "text"]);
    assert.equal(request.json.msgtype, "text");
    assert.match(request.json.text.content, /^\[team-a\/web-7d9f8c6b5-x2x4q\] core: core\.server\.42\n/);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("dingtalk: a wrong secret gets errcode 310000, which is final and logged with DingTalk's text", async () => {
  const clock = new VirtualClock();
  const api = fakeDingtalk(clock, { secret: SECRET });
  const test = testDispatcher(channelYaml({ chan: "dingtalk", webhookurl: api.url, secret: "SECwrong" }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.received.length, 1);
    assert.equal(test.count("failed"), 1);
    assert.match(
      test.logs.find((l) => l.includes('msg="notification failed"'))!,
      /error="dingtalk errcode 310000: sign not match, more: \[https:\/\/ding-doc\.dingtalk\.com\/doc#\/serverapi2\/qf2nxq\]"/,
    );
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("dingtalk: errcode 130101 (too fast) waits a minute and is retried with a fresh signature", async () => {
  const clock = new VirtualClock();
  const api = fakeDingtalk(clock, { secret: SECRET });
  api.script(() => jsonReply({ errcode: 130101, errmsg: "send too fast, exceed 20 times per minute" }));
  const test = testDispatcher(channelYaml({ chan: "dingtalk", webhookurl: api.url, secret: SECRET }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.simulate(() => api.accepted.length === 1);
    await test.dispatcher.idle();
    assert.equal(api.received.length, 2);
    assert.ok(api.received[1].at - api.received[0].at >= 60_000);
    const [first, second] = api.received.map((r) => r.url.searchParams.get("timestamp"));
    assert.notEqual(first, second, "each attempt is signed anew");
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("dingtalk: long text is cut to the conservative limit without splitting characters", async () => {
  const clock = new VirtualClock();
  const api = fakeDingtalk(clock);
  const test = testDispatcher(
    channelYaml({ chan: "dingtalk", webhookurl: api.url, template: `{pod.name} ${"段错误🧨".repeat(900)}` }),
    clock,
  );
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    const content: string = api.received[0].json.text.content;
    assert.ok(utf8Bytes(content) <= DINGTALK_LIMIT_BYTES && utf8Bytes(content) > DINGTALK_LIMIT_BYTES - 16);
    assert.ok(content.endsWith(TRUNCATION_MARKER));
    assert.ok(!content.includes("\uFFFD"));
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});
