/**
 * The `wechat` channel against a local server that answers like a WeCom
 * group robot.
 */

import assert from "node:assert/strict";
import { TRUNCATION_MARKER, utf8Bytes } from "../src/core/text_limit.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { fakeWecom, jsonReply, textReply } from "./support/fake_chat_apis.ts";
import { channelYaml, testDispatcher } from "./support/notify_setup.ts";
import { VirtualClock } from "./support/virtual_clock.ts";

Deno.test("wechat: the default message goes out as markdown with the crash facts and the link", async () => {
  const clock = new VirtualClock();
  const api = fakeWecom(clock);
  const test = testDispatcher(channelYaml({ chan: "wechat", webhookurl: api.url }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.received.length, 1);
    const body = api.received[0].json;
    assert.deepEqual(Object.keys(body), ["msgtype", "markdown"]);
    assert.equal(body.msgtype, "markdown");
    const content: string = body.markdown.content;
    assert.equal(content.split("\n")[0], "[team-a/web-7d9f8c6b5-x2x4q] core: core.server.42");
    assert.match(content, /^container: app \(registry\.example\.com\/web:1\.4\.2\)$/m);
    assert.match(content, /^workload: Deployment\/web$/m);
    assert.match(content, /^signal: SIGSEGV \(11\)$/m);
    assert.match(content, /^process: server pid 42: \/app\/server --port 8080$/m);
    assert.match(content, /^node: node-1 \(10\.0\.0\.1\), cluster: prod-sh$/m);
    assert.match(content, /^size: 1\.2 GiB raw, 50\.0 MiB stored$/m);
    assert.match(content, /^time: 2025-01-06T09:00:00\.000Z$/m);
    assert.match(content, /^download: https:\/\/cores\.s3\.example\.com\/corefiles\/team-a\/.*X-Amz-Signature=/m);
    assert.equal(api.received[0].headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(test.count("sent"), 1);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("wechat: text messages carry mentioned_list and mentioned_mobile_list; markdown mentions are <@id>", async () => {
  const clock = new VirtualClock();
  const api = fakeWecom(clock);
  const yaml = [
    "NoticeChannel:",
    "  - chan: wecom",
    `    webhookurl: "${api.url}"`,
    "    msgtype: text",
    '    mentioned_list: ["zhangsan", "@all"]',
    '    mentioned_mobile_list: "13800001111, 13900002222"',
    "  - chan: wechat",
    `    webhookurl: "${api.url}"`,
    "    mentioned_list: [zhangsan, lisi]",
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 2);
    const text = api.received.find((r) => r.json.msgtype === "text")!.json;
    assert.deepEqual(Object.keys(text.text), ["content", "mentioned_list", "mentioned_mobile_list"]);
    assert.deepEqual(text.text.mentioned_list, ["zhangsan", "@all"]);
    assert.deepEqual(text.text.mentioned_mobile_list, ["13800001111", "13900002222"]);
    assert.match(text.text.content, /^\[team-a\/web-7d9f8c6b5-x2x4q\] core: core\.server\.42\n/);
    const markdown = api.received.find((r) => r.json.msgtype === "markdown")!.json;
    assert.match(markdown.markdown.content, /\n<@zhangsan> <@lisi>$/);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("wechat: an errcode in a 200 answer is a failure, logged with WeCom's own text and never retried when final", async () => {
  const clock = new VirtualClock();
  const api = fakeWecom(clock);
  const wrongKey = api.url.replace("key=test-key", "key=wrong-key-9f8e7d");
  const test = testDispatcher(channelYaml({ chan: "wechat", webhookurl: wrongKey }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.received.length, 1, "93000 (invalid webhook) cannot succeed later; no retry");
    assert.equal(test.count("sent"), 0);
    assert.equal(test.count("failed"), 1);
    const line = test.logs.find((l) => l.includes('msg="notification failed"'))!;
    assert.ok(line, test.logs.join("\n"));
    assert.match(line, /level=error/);
    assert.match(line, /channel=wechat#0/);
    assert.match(
      line,
      /error="wecom errcode 93000: invalid webhook url, hint: \[1736150400_11_abc\], from ip: 10\.0\.0\.1"/,
    );
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("wechat: 5xx, errcode 45009 (frequency) and -1 (busy) are retried; 45009 waits a minute", async () => {
  const clock = new VirtualClock();
  const api = fakeWecom(clock);
  api.script(
    () => textReply("<html>502 Bad Gateway</html>", { status: 502 }),
    () => jsonReply({ errcode: 45009, errmsg: "api freq out of limit" }),
    () => jsonReply({ errcode: -1, errmsg: "system busy" }),
  );
  const test = testDispatcher(channelYaml({ chan: "wechat", webhookurl: api.url }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.simulate(() => api.accepted.length === 1);
    await test.dispatcher.idle();
    assert.equal(api.received.length, 4);
    assert.ok(api.received[2].at - api.received[1].at >= 60_000, "45009 waits a minute");
    assert.equal(test.count("retried"), 3);
    assert.equal(test.count("sent"), 1);
    assert.equal(test.count("failed"), 0);
    const warnings = test.logs.filter((l) => l.includes('msg="notification not accepted; retrying"'));
    assert.equal(warnings.length, 3);
    assert.match(warnings[0], /error="HTTP 502: <html>502 Bad Gateway<\/html>"/);
    assert.match(warnings[1], /error="wecom errcode 45009: api freq out of limit"/);
    assert.match(warnings[2], /error="wecom errcode -1: system busy"/);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("wechat: long multibyte messages are cut at a character boundary within 4096 (markdown) and 2048 (text) bytes", async () => {
  const clock = new VirtualClock();
  const api = fakeWecom(clock);
  const template = `{pod.name} ${"内核转储😀".repeat(1500)}`;
  const yaml = [
    `messageTemplate: "${template}"`,
    "NoticeChannel:",
    `  - chan: wechat\n    webhookurl: "${api.url}"`,
    `  - chan: wechat\n    webhookurl: "${api.url}"\n    msgtype: text`,
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 2, "WeCom accepted both (no 40058)");
    for (const { json } of api.received) {
      const content: string = json[json.msgtype].content;
      const limit = json.msgtype === "text" ? 2048 : 4096;
      assert.ok(utf8Bytes(content) <= limit, `${json.msgtype}: ${utf8Bytes(content)} bytes`);
      assert.ok(utf8Bytes(content) > limit - 16, "nearly all the room is used");
      assert.ok(content.endsWith(TRUNCATION_MARKER));
      assert.ok(!content.includes("\uFFFD"), "no broken character");
      const kept = content.slice(0, -TRUNCATION_MARKER.length);
      assert.ok(/(内核转储😀|内|核|转|储|😀)$/u.test(kept), "ends on a whole character");
      assert.ok(!/[\uD800-\uDBFF]$/.test(kept), "no half of a surrogate pair");
    }
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});
