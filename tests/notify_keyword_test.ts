/**
 * The `keyword` filter: a channel gets a message only when the rendered
 * message contains the keyword; empty means every message.
 */

import assert from "node:assert/strict";
import { sampleRecord } from "./support/crash_records.ts";
import { fakeReceiver } from "./support/fake_chat_apis.ts";
import { testDispatcher } from "./support/notify_setup.ts";
import { VirtualClock } from "./support/virtual_clock.ts";

Deno.test("keyword: matched against each channel's rendered message; empty means every message", async () => {
  const clock = new VirtualClock();
  const all = fakeReceiver(clock);
  const prod = fakeReceiver(clock);
  const terse = fakeReceiver(clock);
  const signal = fakeReceiver(clock);
  const yaml = [
    "CrashLoop:",
    "  Enabled: false",
    "NoticeChannel:",
    `  - chan: webhook\n    webhookurl: "${all.url}"\n    keyword: ""`,
    `  - chan: webhook\n    webhookurl: "${prod.url}"\n    keyword: production`,
    // The template leaves the namespace out, so "production" never appears in this channel's message.
    `  - chan: webhook\n    webhookurl: "${terse.url}"\n    keyword: production\n    template: "{pod.name} crashed"`,
    // Rendered text, not raw fields: the signal variable renders as "SIGABRT (6)".
    `  - chan: webhook\n    webhookurl: "${signal.url}"\n    keyword: "SIGABRT (6)"`,
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  try {
    test.dispatcher.publish(sampleRecord({ id: "1".repeat(32), pod: { namespace: "production" } }));
    test.dispatcher.publish(sampleRecord({ id: "2".repeat(32), pod: { namespace: "staging" } }));
    test.dispatcher.publish(
      sampleRecord({
        id: "3".repeat(32),
        pod: { namespace: "staging" },
        process: { signal: 6, signalName: "SIGABRT" },
      }),
    );
    await test.dispatcher.idle();
    assert.equal(all.accepted.length, 3);
    assert.deepEqual(prod.accepted.map((r) => r.json.record.id), ["1".repeat(32)]);
    assert.match(prod.accepted[0].json.text, /^\[production\/web-7d9f8c6b5-x2x4q\]/);
    assert.equal(terse.received.length, 0);
    assert.deepEqual(signal.accepted.map((r) => r.json.record.id), ["3".repeat(32)]);
    assert.equal(test.count("filtered"), 2 + 3 + 2);
    assert.equal(test.metrics.filtered.get({ channel: "webhook#2" }), 3);
  } finally {
    await test.dispatcher.drain();
    for (const api of [all, prod, terse, signal]) await api.stop();
  }
});

Deno.test("keyword: a crash loop's digest counts only the crashes whose message matched", async () => {
  const clock = new VirtualClock();
  const api = fakeReceiver(clock);
  const yaml = [
    "NoticeChannel:",
    `  - chan: webhook\n    webhookurl: "${api.url}"\n    keyword: "node: node-7"`,
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  try {
    const onNode = (n: number, i: number) =>
      sampleRecord({ id: `${n}-${i}`.padStart(32, "0"), pod: { node: `node-${n}` } });
    // The template prints {node.name}, the watcher's node; the crash records differ in it.
    const record = (n: number, i: number) => ({ ...onNode(n, i), node: { name: `node-${n}`, ip: "10.0.0.7" } });
    test.dispatcher.publish(record(7, 0));
    for (let i = 1; i <= 6; i++) test.dispatcher.publish(record(i % 2 === 0 ? 7 : 8, i));
    await test.dispatcher.drain();
    assert.equal(api.accepted.length, 2);
    assert.equal(api.accepted[1].json.digest.count, 3, "only the three repeats on node-7");
  } finally {
    await api.stop();
  }
});
