/**
 * Rate limits and retry timing: the pure rules, then a burst of 50
 * crashes into every chat API at once, in simulated time, against servers
 * that enforce the real limits.
 */

import assert from "node:assert/strict";
import { nextStep, parseRetryAfter } from "../src/core/retry_policy.ts";
import { RateWindow } from "../src/core/rate_limit.ts";
import { sampleRecord } from "./support/crash_records.ts";
import {
  type FakeApi,
  fakeDingtalk,
  fakeFeishu,
  fakeSlack,
  fakeWecom,
  type Received,
} from "./support/fake_chat_apis.ts";
import { testDispatcher } from "./support/notify_setup.ts";
import { VirtualClock } from "./support/virtual_clock.ts";

Deno.test("RateWindow: 20 a minute lets 20 through, then the 21st waits for the first to leave the window", () => {
  const window = new RateWindow([{ limit: 20, windowMs: 60_000 }]);
  for (let i = 0; i < 20; i++) {
    assert.equal(window.waitMs(1000 + i), 0);
    window.record(1000 + i);
  }
  assert.equal(window.waitMs(1020), 60_000 - 20);
  assert.equal(window.waitMs(61_000), 0);
  window.record(61_000);
  assert.equal(window.waitMs(61_000), 1, "the second request of the burst leaves at 61001");
});

Deno.test("RateWindow: several rules at once (Feishu's 5 a second and 100 a minute), and block() for Retry-After", () => {
  const window = new RateWindow([{ limit: 100, windowMs: 60_000 }, { limit: 5, windowMs: 1000 }]);
  let now = 0;
  const sent: number[] = [];
  while (sent.length < 120) {
    now += window.waitMs(now);
    window.record(now);
    sent.push(now);
  }
  for (let i = 0; i + 5 < sent.length; i++) assert.ok(sent[i + 5] - sent[i] >= 1000);
  for (let i = 0; i + 100 < sent.length; i++) assert.ok(sent[i + 100] - sent[i] >= 60_000);
  assert.equal(sent[100], 60_000, "the 101st waits for the minute");
  window.block(now + 30_000);
  assert.equal(window.waitMs(now), 30_000);
});

Deno.test("retry policy: backoff grows to the cap, Retry-After wins, final errors and the deadline stop retries", () => {
  const retry = { ok: false as const, retry: true, error: "HTTP 503" };
  const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => {
    const step = nextStep(retry, { attempt, now: 0, deadline: 1e9 }, { maxMs: 60_000, random: 0 });
    assert.equal(step.kind, "retry");
    return step.kind === "retry" ? step.delayMs : 0;
  });
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  assert.deepEqual(
    nextStep({ ...retry, retryAfterMs: 45_000 }, { attempt: 1, now: 0, deadline: 1e9 }, { maxMs: 1000 }),
    {
      kind: "retry",
      delayMs: 45_000,
    },
  );
  assert.equal(
    nextStep({ ...retry, retry: false }, { attempt: 1, now: 0, deadline: 1e9 }, { maxMs: 1000 }).kind,
    "give-up",
  );
  assert.equal(
    nextStep(retry, { attempt: 3, now: 9000, deadline: 10_000 }, { maxMs: 60_000, random: 0 }).kind,
    "give-up",
  );
  assert.deepEqual(nextStep({ ok: true }, { attempt: 9, now: 1e12, deadline: 0 }, { maxMs: 1 }), { kind: "done" });
});

Deno.test("parseRetryAfter: seconds or an HTTP date", () => {
  const now = Date.UTC(2025, 0, 6, 9, 0, 0);
  assert.equal(parseRetryAfter("30", now), 30_000);
  assert.equal(parseRetryAfter("1.5", now), 1500);
  assert.equal(parseRetryAfter("Mon, 06 Jan 2025 09:01:00 GMT", now), 60_000);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

function maxInAnyWindow(requests: Received[], windowMs: number): number {
  let max = 0;
  for (const first of requests) {
    max = Math.max(max, requests.filter((r) => r.at >= first.at && r.at < first.at + windowMs).length);
  }
  return max;
}

Deno.test("a burst of 50 crashes: every message reaches every API, in order, within each API's rate limit", async () => {
  const clock = new VirtualClock();
  const apis: Record<string, FakeApi> = {
    wechat: fakeWecom(clock),
    slack: fakeSlack(clock),
    dingtalk: fakeDingtalk(clock),
    feishu: fakeFeishu(clock),
  };
  const yaml = [
    "NoticeChannel:",
    ...Object.entries(apis).map(([chan, api]) => `  - chan: ${chan}\n    webhookurl: "${api.url}"`),
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  try {
    const start = clock.now();
    for (let i = 0; i < 50; i++) {
      test.dispatcher.publish(sampleRecord({
        id: String(i).padStart(32, "0"),
        pod: { name: `worker-${i}`, workload: { kind: "StatefulSet", name: `worker-${i}` } },
      }));
    }
    await test.simulate(() => Object.values(apis).every((api) => api.accepted.length === 50));
    await test.dispatcher.idle();

    for (const [chan, api] of Object.entries(apis)) {
      assert.equal(api.received.length, 50, `${chan}: no request was refused for going too fast`);
      const pods = api.received.map((r) => JSON.stringify(r.json).match(/worker-(\d+)/)![1]);
      assert.deepEqual(pods, Array.from({ length: 50 }, (_, i) => String(i)), `${chan}: in order`);
    }
    assert.ok(maxInAnyWindow(apis.wechat.received, 60_000) <= 20);
    assert.ok(maxInAnyWindow(apis.dingtalk.received, 60_000) <= 20);
    assert.ok(maxInAnyWindow(apis.slack.received, 1000) <= 1);
    assert.ok(maxInAnyWindow(apis.feishu.received, 1000) <= 5);
    // 50 at 20 a minute needs two full minutes of waiting; the queue, not a drop, absorbed the burst.
    assert.ok(apis.wechat.received[49].at - start >= 120_000);
    assert.ok(apis.slack.received[49].at - start >= 49_000);
    assert.equal(test.count("sent"), 200);
    assert.equal(test.count("retried"), 0);
    assert.equal(test.count("failed"), 0);
  } finally {
    await test.dispatcher.drain();
    for (const api of Object.values(apis)) await api.stop();
  }
});

Deno.test("two channels on one WeCom robot share its 20 a minute", async () => {
  const clock = new VirtualClock();
  const api = fakeWecom(clock);
  const yaml = [
    "NoticeChannel:",
    `  - chan: wechat\n    webhookurl: "${api.url}"`,
    `  - chan: wecom\n    webhookurl: "${api.url}"\n    msgtype: text`,
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  try {
    for (let i = 0; i < 25; i++) {
      test.dispatcher.publish(
        sampleRecord({ id: String(i).padStart(32, "0"), pod: { name: `p-${i}`, workload: undefined } }),
      );
    }
    await test.simulate(() => api.accepted.length === 50);
    assert.equal(api.received.length, 50, "no 45009");
    assert.ok(maxInAnyWindow(api.received, 60_000) <= 20);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});
