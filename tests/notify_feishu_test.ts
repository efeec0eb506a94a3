/**
 * The `feishu` channel against a local server that answers like a Feishu
 * custom bot, including its signature check and its 20 KB body limit.
 */

import assert from "node:assert/strict";
import { utf8Bytes } from "../src/core/text_limit.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { fakeFeishu, feishuExpectedSign, jsonReply } from "./support/fake_chat_apis.ts";
import { channelYaml, testDispatcher } from "./support/notify_setup.ts";
import { VirtualClock } from "./support/virtual_clock.ts";

const SECRET = "qwErTy0123456789AbCdEf";

Deno.test("feishu/lark: a signed text message; timestamp (seconds) and sign are in the body as documented", async () => {
  const clock = new VirtualClock();
  const api = fakeFeishu(clock, { secret: SECRET });
  const test = testDispatcher(channelYaml({ chan: "lark", webhookurl: api.url, secret: SECRET }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 1, api.received.map((r) => r.raw).join("\n"));
    const body = api.received[0].json;
    assert.deepEqual(Object.keys(body).sort(), ["content", "msg_type", "sign", "timestamp"]);
    assert.equal(body.timestamp, String(Math.floor(clock.now() / 1000)));
    assert.equal(body.sign, await feishuExpectedSign(SECRET, body.timestamp));
    assert.equal(body.msg_type, "text");
    assert.match(body.content.text, /^\[team-a\/web-7d9f8c6b5-x2x4q\] core: core\.server\.42\n/);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("feishu: without a secret there is no timestamp or sign", async () => {
  const clock = new VirtualClock();
  const api = fakeFeishu(clock);
  const test = testDispatcher(channelYaml({ chan: "feishu", webhookurl: api.url }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.deepEqual(Object.keys(api.received[0].json), ["msg_type", "content"]);
    assert.equal(api.accepted.length, 1);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("feishu: code 19021 (signature) is final and logged with Feishu's text; 11232 and 5xx are retried", async () => {
  const clock = new VirtualClock();
  const api = fakeFeishu(clock, { secret: SECRET });
  const wrong = testDispatcher(channelYaml({ chan: "feishu", webhookurl: api.url, secret: "other" }), clock);
  try {
    wrong.dispatcher.publish(sampleRecord());
    await wrong.dispatcher.idle();
    assert.equal(api.received.length, 1);
    assert.match(
      wrong.logs.find((l) => l.includes('msg="notification failed"'))!,
      /error="feishu code 19021: sign match fail or timestamp is not within one hour from current time"/,
    );
  } finally {
    await wrong.dispatcher.drain();
  }
  const right = testDispatcher(channelYaml({ chan: "feishu", webhookurl: api.url, secret: SECRET }), clock);
  try {
    api.script(
      () => jsonReply({ code: 11232, msg: "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]" }),
      () =>
        jsonReply({ code: 99991400, msg: "request trigger frequency limit" }, {
          status: 429,
          headers: { "x-ogw-ratelimit-reset": "7" },
        }),
      () => jsonReply({ code: 500, msg: "internal error" }, { status: 503 }),
    );
    right.dispatcher.publish(sampleRecord());
    await right.simulate(() => api.accepted.length === 1);
    await right.dispatcher.idle();
    assert.equal(api.received.length, 5);
    assert.equal(api.received[3].at - api.received[2].at, 7000, "x-ogw-ratelimit-reset is honoured");
    assert.equal(right.count("retried"), 3);
    assert.equal(right.count("sent"), 1);
  } finally {
    await right.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("feishu: the whole request body stays within 20 KB however long the message", async () => {
  const clock = new VirtualClock();
  const api = fakeFeishu(clock, { secret: SECRET });
  const yaml = channelYaml({
    chan: "feishu",
    webhookurl: api.url,
    secret: SECRET,
    template: `{pod.name} "quoted"\t${"栈溢出🔥\n".repeat(3000)}`,
  });
  const test = testDispatcher(yaml, clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 1, "Feishu accepted it (no 9499)");
    const size = utf8Bytes(api.received[0].raw);
    assert.ok(size <= 20_000 && size > 19_980, `${size} bytes`);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});
