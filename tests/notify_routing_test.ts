/**
 * Routing: a `NoticeChannel` entry limited by `namespaces` (names or globs)
 * and `matchLabels` gets exactly the crashes of its team.
 */

import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../src/core/config.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { fakeReceiver } from "./support/fake_chat_apis.ts";
import { testDispatcher } from "./support/notify_setup.ts";
import { VirtualClock } from "./support/virtual_clock.ts";

Deno.test("routing: channels limited by namespace glob and by labels get exactly their crashes", async () => {
  const clock = new VirtualClock();
  const everything = fakeReceiver(clock);
  const teamA = fakeReceiver(clock);
  const payments = fakeReceiver(clock);
  const both = fakeReceiver(clock);
  const yaml = [
    "CrashLoop:",
    "  Enabled: false",
    "NoticeChannel:",
    `  - chan: webhook\n    webhookurl: "${everything.url}"`,
    `  - chan: webhook\n    webhookurl: "${teamA.url}"\n    namespaces: ["team-a", "team-a-*"]`,
    `  - chan: webhook\n    webhookurl: "${payments.url}"\n    matchLabels: {team: payments, tier: backend}`,
    `  - chan: webhook\n    webhookurl: "${both.url}"\n    namespaces: ["prod-?"]\n    matchLabels: {team: payments}`,
    "",
  ].join("\n");
  const test = testDispatcher(yaml, clock);
  const crash = (n: number, namespace: string | undefined, labels?: Record<string, string>) =>
    sampleRecord({ id: String(n).repeat(32), pod: { namespace, labels } });
  try {
    test.dispatcher.publish(crash(1, "team-a", { team: "web" }));
    test.dispatcher.publish(crash(2, "team-a-canary", { team: "payments", tier: "backend" }));
    test.dispatcher.publish(crash(3, "team-ab", { team: "payments", tier: "frontend" }));
    test.dispatcher.publish(crash(4, "prod-1", { team: "payments", tier: "backend" }));
    test.dispatcher.publish(crash(5, "prod-12", { team: "payments" }));
    // Unattributed core, and a pod whose labels are unknown (API down): only unlimited channels.
    test.dispatcher.publish(crash(6, undefined));
    test.dispatcher.publish(crash(7, "prod-2", undefined));
    await test.dispatcher.idle();
    const ids = (api: typeof everything) => api.accepted.map((r) => Number(r.json.record.id[0]));
    assert.deepEqual(ids(everything), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(ids(teamA), [1, 2], "team-a and team-a-*, not team-ab");
    assert.deepEqual(ids(payments), [2, 4], "every label must match");
    assert.deepEqual(ids(both), [4], "namespace and labels must both match");
    assert.equal(test.metrics.filtered.get({ channel: "webhook#1" }), 5);
  } finally {
    await test.dispatcher.drain();
    for (const api of [everything, teamA, payments, both]) await api.stop();
  }
});

Deno.test("routing: a bad namespace glob or label is a startup error naming the entry and the fix", () => {
  const error = (() => {
    try {
      parseConfig(
        "StorageConfig:\n  S3Bucket: b\nNoticeChannel:\n  - chan: console\n    namespaces: [Team_A, ok-*]\n    matchLabels: {team: payments}\n",
      );
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.problems, [
    'NoticeChannel[0].namespaces entry "Team_A" is not a namespace name or glob; ' +
    "use lower-case letters, digits, '-', '*' and '?', e.g. team-a or team-*",
  ]);
  const config = parseConfig(
    "StorageConfig:\n  S3Bucket: b\nNoticeChannel:\n  - chan: console\n    namespaces: [team-*]\n    matchLabels: {team: payments}\n",
  );
  assert.deepEqual(config.channels[0].namespaces, ["team-*"]);
  assert.deepEqual(config.channels[0].matchLabels, { team: "payments" });
});
