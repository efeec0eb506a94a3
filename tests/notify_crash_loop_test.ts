/**
 * Crash-loop digests: the tracker's rules, then the dispatcher against
 * real local chat servers in simulated time.
 */

import assert from "node:assert/strict";
import { crashLoopKey, CrashLoopTracker, renderDigest } from "../src/core/crash_loop.ts";
import { DEFAULT_TEMPLATE } from "../src/core/template.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { fakeReceiver, fakeWecom } from "./support/fake_chat_apis.ts";
import { channelYaml, testDispatcher } from "./support/notify_setup.ts";
import { settle, VirtualClock } from "./support/virtual_clock.ts";

const MINUTE = 60_000;

function repeat(i: number) {
  return sampleRecord({ id: `r${i}`.padStart(32, "0"), crashedAt: new Date(Date.UTC(2025, 0, 6, 9, i)).toISOString() });
}

Deno.test("crash-loop key: workload, container and signal; namespace/pod without a workload", () => {
  const base = sampleRecord();
  assert.equal(
    crashLoopKey(base),
    crashLoopKey(sampleRecord({ pod: { name: "web-7d9f8c6b5-other" } })),
    "another pod of the Deployment",
  );
  assert.notEqual(crashLoopKey(base), crashLoopKey(sampleRecord({ container: { name: "sidecar" } })));
  assert.notEqual(crashLoopKey(base), crashLoopKey(sampleRecord({ process: { signal: 6, signalName: "SIGABRT" } })));
  assert.notEqual(crashLoopKey(base), crashLoopKey(sampleRecord({ pod: { namespace: "team-b" } })));
  const bare = (name: string) => sampleRecord({ pod: { name, workload: undefined } });
  assert.notEqual(crashLoopKey(bare("a")), crashLoopKey(base), "a bare pod is not keyed by the Deployment");
  assert.equal(
    crashLoopKey(bare("a")),
    crashLoopKey(
      sampleRecord({
        id: "f".repeat(32),
        crashedAt: "2025-01-06T09:05:00.000Z",
        pod: { name: "a", workload: undefined, uid: "another-uid" },
        process: { pid: 43 },
      }),
    ),
    "another crash of the same bare pod",
  );
  assert.notEqual(crashLoopKey(bare("a")), crashLoopKey(bare("b")));
});

Deno.test("tracker: the first crash is sent, repeats fold into one digest per window, a quiet window ends the loop", () => {
  const tracker = new CrashLoopTracker({ enabled: true, windowMs: 10 * MINUTE });
  assert.equal(tracker.observe(repeat(0), 0), "notify");
  for (let i = 1; i <= 14; i++) assert.equal(tracker.observe(repeat(i), i * 30_000), "fold");
  assert.deepEqual(tracker.takeDue(10 * MINUTE - 1), []);
  assert.equal(tracker.nextDueAt(), 10 * MINUTE);
  const [digest] = tracker.takeDue(10 * MINUTE);
  assert.equal(digest.count, 14);
  assert.equal(digest.repeats.length, 14);
  assert.equal(digest.periodEnd - digest.periodStart, 10 * MINUTE);
  assert.equal(tracker.observe(repeat(15), 12 * MINUTE), "fold", "the loop goes on in the next window");
  assert.equal(tracker.takeDue(20 * MINUTE)[0].count, 1);
  assert.deepEqual(tracker.takeDue(30 * MINUTE), [], "a window without repeats ends quietly");
  assert.equal(tracker.openLoops, 0);
  assert.equal(tracker.observe(repeat(16), 31 * MINUTE), "notify", "a new loop starts with a message");
});

Deno.test("tracker: turned off, every crash is sent; takeAll cuts open windows short", () => {
  const off = new CrashLoopTracker({ enabled: false, windowMs: 10 * MINUTE });
  for (let i = 0; i < 5; i++) assert.equal(off.observe(repeat(i), i), "notify");
  const on = new CrashLoopTracker({ enabled: true, windowMs: 10 * MINUTE });
  on.observe(repeat(0), 0);
  on.observe(repeat(1), MINUTE);
  const [digest] = on.takeAll(3 * MINUTE);
  assert.equal(digest.count, 1);
  assert.equal(digest.periodEnd, 3 * MINUTE);
  assert.equal(on.openLoops, 0);
});

Deno.test("digest text: what looped, how often and how long, the latest crash, then the links", () => {
  const repeats = Array.from({ length: 14 }, (_, i) => repeat(i + 1));
  const text = renderDigest({ key: "k", count: 14, repeats, periodStart: 0, periodEnd: 10 * MINUTE }, {
    template: DEFAULT_TEMPLATE,
  });
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    "[team-a/Deployment/web] container app, SIGSEGV (11): crashed 14 more times in the last 10 minutes",
  );
  assert.equal(lines[1], "Latest crash:");
  assert.equal(lines[2], "[team-a/web-7d9f8c6b5-x2x4q] core: core.server.42");
  assert.ok(lines.includes("Cores of these 14 crashes:"));
  for (const record of repeats) assert.ok(text.includes(`: ${record.storage.url}`));
  const one = renderDigest({ key: "k", count: 1, repeats: [repeat(1)], periodStart: 0, periodEnd: 30_000 }, {
    template: "{pod.name}",
  });
  assert.match(one, /: crashed 1 more time in the last minute\n/);
  const many = Array.from({ length: 30 }, (_, i) => repeat(i));
  const capped = renderDigest({ key: "k", count: 120, repeats: many, periodStart: 0, periodEnd: 10 * MINUTE }, {
    template: "{pod.name}",
  });
  assert.match(capped, /Cores of the latest 20 of these 120 crashes:/);
  assert.equal(capped.split("\n").filter((l) => l.startsWith("- ")).length, 20);
});

Deno.test("crash loop end to end: one message at once, 14 repeats in one digest at the end of the window, with links", async () => {
  const clock = new VirtualClock();
  const wecom = fakeWecom(clock);
  const receiver = fakeReceiver(clock);
  const yaml = [
    "NoticeChannel:",
    `  - chan: wechat\n    webhookurl: "${wecom.url}"`,
    `  - chan: webhook\n    webhookurl: "${receiver.url}"`,
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  const start = clock.now();
  try {
    test.dispatcher.publish(repeat(0));
    await test.dispatcher.idle();
    assert.equal(wecom.accepted.length, 1, "the first crash is notified at once");
    const repeats = Array.from({ length: 14 }, (_, i) => repeat(i + 1));
    for (const record of repeats) {
      clock.advance(30_000);
      test.dispatcher.publish(record);
    }
    await test.dispatcher.idle();
    assert.equal(wecom.received.length, 1, "no message per repeat");
    assert.equal(test.count("folded"), 28);

    await test.simulate(() => wecom.accepted.length === 2 && receiver.accepted.length === 2);
    assert.equal(wecom.received[1].at, start + 10 * MINUTE, "the digest goes out when the window ends");
    const content: string = wecom.received[1].json.markdown.content;
    assert.match(
      content,
      /^\[team-a\/Deployment\/web\] container app, SIGSEGV \(11\): crashed 14 more times in the last 10 minutes\n/,
    );
    for (const record of repeats) assert.ok(content.includes(record.storage.url), "every repeat's link");

    const digest = receiver.received[1];
    assert.equal(digest.headers.get("x-coredog-event"), "crash_loop");
    assert.equal(digest.json.event, "crash_loop");
    assert.equal(digest.json.digest.count, 14);
    assert.deepEqual(digest.json.digest.records.map((r: { id: string }) => r.id), repeats.map((r) => r.id));
    assert.equal(digest.json.record.id, repeats[13].id, "record is the latest repeat");

    // The loop goes on: one more crash in the next window, a digest for it, then quiet.
    clock.advance(2 * MINUTE);
    test.dispatcher.publish(repeat(15));
    await test.simulate(() => wecom.accepted.length === 3);
    assert.equal(wecom.received[2].at, start + 20 * MINUTE);
    assert.match(wecom.received[2].json.markdown.content, /crashed 1 more time in the last 10 minutes/);
    await test.simulate(() => clock.now() >= start + 30 * MINUTE);
    clock.advance(MINUTE);
    test.dispatcher.publish(repeat(16));
    await test.dispatcher.idle();
    assert.equal(wecom.accepted.length, 4, "after a quiet window the next crash is notified at once");
    assert.match(wecom.received[3].json.markdown.content, /^\[team-a\/web-7d9f8c6b5-x2x4q\] core: core\.server\.42/);
  } finally {
    await test.dispatcher.drain();
    await wecom.stop();
    await receiver.stop();
  }
});

Deno.test("crash loop: CrashLoop.Enabled false sends every crash; other containers and signals are separate loops", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock);
  const off = testDispatcher(
    channelYaml({ chan: "webhook", webhookurl: api.url }, ["CrashLoop:", "  Enabled: false"]),
    clock,
  );
  try {
    for (let i = 0; i < 15; i++) off.dispatcher.publish(repeat(i));
    await off.dispatcher.idle();
    assert.equal(api.accepted.length, 15);
  } finally {
    await off.dispatcher.drain();
  }
  const on = testDispatcher(
    channelYaml({ chan: "webhook", webhookurl: api.url }, ["CrashLoop:", "  WindowMinutes: 5"]),
    clock,
  );
  try {
    on.dispatcher.publish(repeat(0));
    on.dispatcher.publish(sampleRecord({ container: { name: "sidecar" } }));
    on.dispatcher.publish(sampleRecord({ process: { signal: 6, signalName: "SIGABRT" } }));
    on.dispatcher.publish(repeat(1));
    await on.dispatcher.idle();
    assert.equal(api.accepted.length, 18);
    const start = clock.now();
    await on.simulate(() => api.accepted.length === 19);
    assert.equal(api.received[18].at, start + 5 * MINUTE, "WindowMinutes: 5");
    assert.equal(api.received[18].json.digest.count, 1);
  } finally {
    await on.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("crash loop: at shutdown, drain sends the digest of the open window at once", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock);
  const test = testDispatcher(channelYaml({ chan: "webhook", webhookurl: api.url }), clock);
  try {
    for (let i = 0; i < 4; i++) {
      test.dispatcher.publish(repeat(i));
      clock.advance(MINUTE);
    }
    await test.dispatcher.drain();
    assert.equal(api.accepted.length, 2);
    assert.equal(api.received[1].json.digest.count, 3);
    assert.match(api.received[1].json.text, /crashed 3 more times in the last 4 minutes/);
    await settle("no timer left behind", () => clock.sleepers === 0);
  } finally {
    await api.stop();
  }
});
