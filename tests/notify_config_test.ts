/**
 * Notification configuration: channel entries and their keys, the
 * `CrashLoop` and `Notify` sections, and building every channel type.
 */

import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../src/core/config.ts";
import { CHANNEL_TYPES, CRASH_LOOP_KEYS, NOTIFY_KEYS } from "../src/core/config_schema.ts";
import { createChannels } from "../src/notify/mod.ts";

const STORAGE = "StorageConfig:\n  S3Bucket: b\n";

function problemsOf(text: string): string[] {
  try {
    parseConfig(STORAGE + text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  throw new Error("expected the configuration to be rejected");
}

Deno.test("CrashLoop and Notify: documented defaults, and the values reach every channel", () => {
  const config = parseConfig(`${STORAGE}NoticeChannel:\n  - chan: console\n`);
  assert.deepEqual(config.crashLoop, { enabled: true, windowMs: 10 * 60_000 });
  assert.deepEqual(config.notify, { giveUpAfterMs: 30 * 60_000, retryMaxMs: 60_000, requestTimeoutMs: 10_000 });
  assert.deepEqual(config.channels[0].crashLoop, config.crashLoop);
  assert.deepEqual(config.channels[0].delivery, config.notify);
  for (const spec of [...Object.values(CRASH_LOOP_KEYS), ...Object.values(NOTIFY_KEYS)]) {
    assert.ok(spec.doc.length > 20);
  }

  const custom = parseConfig(
    `${STORAGE}CrashLoop:\n  Enabled: false\n  WindowMinutes: 3\nNotify:\n  GiveUpAfterMinutes: 120\n  RetryMaxSeconds: 5\n  RequestTimeoutSeconds: 2\n`,
  );
  assert.deepEqual(custom.crashLoop, { enabled: false, windowMs: 3 * 60_000 });
  assert.deepEqual(custom.notify, { giveUpAfterMs: 120 * 60_000, retryMaxMs: 5000, requestTimeoutMs: 2000 });
});

Deno.test("CrashLoop and Notify: bad values and mis-cased keys are errors naming the key", () => {
  assert.deepEqual(problemsOf("CrashLoop:\n  Enabled: maybe\n  windowMinutes: 5\nNotify:\n  GiveUpAfterMinutes: 0\n"), [
    "unknown key CrashLoop.windowMinutes: keys are case-sensitive, write CrashLoop.WindowMinutes",
    'CrashLoop.Enabled must be true or false, got "maybe"',
    "Notify.GiveUpAfterMinutes 0 is out of range; use 1 to 1440",
  ]);
  assert.deepEqual(problemsOf("Crashloop: {}\n"), [
    "unknown key Crashloop: keys are case-sensitive, write CrashLoop",
  ]);
});

Deno.test("every channel type parses with its own keys, and createChannels builds each without throwing", () => {
  const config = parseConfig(`${STORAGE}NoticeChannel:
  - chan: console
  - chan: wechat
    webhookurl: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K
  - chan: wecom
    webhookurl: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K2
    msgtype: text
    mentioned_list: ["@all"]
    mentioned_mobile_list: ["13800001111"]
  - chan: slack
    webhookurl: https://hooks.slack.com/services/T/B/X
  - chan: dingtalk
    webhookurl: https://oapi.dingtalk.com/robot/send?access_token=T
    secret: SECabc
  - chan: feishu
    webhookurl: https://open.feishu.cn/open-apis/bot/v2/hook/abc
  - chan: lark
    webhookurl: https://open.larksuite.com/open-apis/bot/v2/hook/abc
    secret: s
  - chan: webhook
    webhookurl: https://hooks.example.com/coredog
    secret: s
    headers: {Authorization: Bearer x}
`);
  assert.deepEqual(config.channels.map((c) => c.chan), [
    "console",
    "wechat",
    "wechat",
    "slack",
    "dingtalk",
    "feishu",
    "feishu",
    "webhook",
  ]);
  assert.deepEqual(config.channels[1].options, { msgtype: "markdown", mentioned_list: [], mentioned_mobile_list: [] });
  assert.deepEqual(config.channels[2].options.mentioned_mobile_list, ["13800001111"]);
  const channels = createChannels(config.channels);
  assert.deepEqual(channels.map((c) => c.notifier.name), [
    "console#0",
    "wechat#1",
    "wechat#2",
    "slack#3",
    "dingtalk#4",
    "feishu#5",
    "feishu#6",
    "webhook#7",
  ]);
  assert.equal(channels[0].rate, undefined);
  assert.equal(channels[0].settings.crashLoop, undefined, "the console prints every crash");
  assert.deepEqual(channels[1].settings.crashLoop, { enabled: true, windowMs: 600_000 });
  assert.deepEqual(channels[1].rate?.rules, [{ limit: 20, windowMs: 61_000 }]);
  assert.notEqual(channels[1].rate, channels[2].rate, "different robots, different limits");
  assert.equal(new Set(CHANNEL_TYPES).size, 8);
});

Deno.test("channels: keys of another channel type, unknown chan and bad URLs are errors naming the entry", () => {
  assert.deepEqual(
    problemsOf(`NoticeChannel:
  - chan: slack
    webhookurl: https://hooks.slack.com/services/x
    secret: abc
  - chan: teams
    webhookurl: https://x.example
  - chan: dingtalk
    webhookurl: "ftp://oapi.dingtalk.com/robot/send"
  - chan: webhook
    webhookurl: https://hooks.example.com/x
    headers: {"Bad Header": x, X-Ok: "a\\nb"}
`),
    [
      "unknown key NoticeChannel[0].secret; known keys here: chan, webhookurl, keyword, template, namespaces, matchLabels",
      'NoticeChannel[1].chan "teams" is not a channel type; use one of console, wechat, wecom, slack, dingtalk, feishu, lark, webhook',
      'NoticeChannel[2].webhookurl "ftp://oapi.dingtalk.com/robot/send" is not an http(s) URL',
      'NoticeChannel[3].headers "Bad Header" is not a valid HTTP header name',
      "NoticeChannel[3].headers.X-Ok must be one line",
    ],
  );
});

Deno.test("channels: WeCom markdown cannot mention by mobile or @all; a robot URL without its key is caught", () => {
  assert.deepEqual(
    problemsOf(`NoticeChannel:
  - chan: wechat
    webhookurl: https://qyapi.weixin.qq.com/cgi-bin/webhook/send
    mentioned_list: ["@all"]
    mentioned_mobile_list: ["13800001111"]
  - chan: dingtalk
    webhookurl: https://oapi.dingtalk.com/robot/send
`),
    [
      "NoticeChannel[0].mentioned_mobile_list needs msgtype: text; WeCom markdown cannot mention by mobile number",
      'NoticeChannel[0].mentioned_list "@all" needs msgtype: text; WeCom markdown cannot mention everyone',
      "NoticeChannel[0].webhookurl has no ?key=; copy the robot's whole webhook address",
      "NoticeChannel[1].webhookurl has no ?access_token=; copy the robot's whole webhook address",
    ],
  );
});
