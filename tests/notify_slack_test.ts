/**
 * The `slack` channel against a local server that answers like a Slack
 * incoming webhook.
 */

import assert from "node:assert/strict";
import { TRUNCATION_MARKER } from "../src/core/text_limit.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { fakeSlack, textReply } from "./support/fake_chat_apis.ts";
import { channelYaml, testDispatcher } from "./support/notify_setup.ts";
import { settle, VirtualClock } from "./support/virtual_clock.ts";

Deno.test("slack: text plus a section block and a download link, with the plain-text fallback; markup is escaped", async () => {
  const clock = new VirtualClock();
  const api = fakeSlack(clock);
  const test = testDispatcher(channelYaml({ chan: "slack", webhookurl: api.url }), clock);
  try {
    test.dispatcher.publish(sampleRecord({ process: { args: "/app/server --mode <fast> && exit" } }));
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 1);
    const body = api.received[0].json;
    assert.deepEqual(Object.keys(body), ["text", "blocks"]);
    assert.match(body.text, /^\[team-a\/web-7d9f8c6b5-x2x4q\] core: core\.server\.42\n/);
    assert.match(body.text, /process: server pid 42: \/app\/server --mode &lt;fast&gt; &amp;&amp; exit/);
    assert.equal(body.blocks.length, 2);
    assert.deepEqual(body.blocks[0], { type: "section", text: { type: "mrkdwn", text: body.text } });
    const url = sampleRecord().storage.url;
    assert.deepEqual(body.blocks[1], {
      type: "context",
      elements: [{ type: "mrkdwn", text: `<${url}|Download the core>` }],
    });
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("slack: 429 waits for Retry-After, then the message goes through", async () => {
  const clock = new VirtualClock();
  const api = fakeSlack(clock);
  api.script(() => textReply("rate_limited", { status: 429, headers: { "retry-after": "30" } }));
  const test = testDispatcher(channelYaml({ chan: "slack", webhookurl: api.url }), clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.simulate(() => api.accepted.length === 1);
    await test.dispatcher.idle();
    assert.equal(api.received.length, 2);
    assert.equal(api.received[1].at - api.received[0].at, 30_000, "exactly the Retry-After");
    assert.match(test.logs.find((l) => l.includes("retrying"))!, /error="slack HTTP 429: rate_limited"/);
    assert.equal(test.count("sent"), 1);
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("slack: at shutdown a 429's Retry-After is not waited out; the message is left for the restart", async () => {
  const clock = new VirtualClock();
  const api = fakeSlack(clock);
  api.script(() => textReply("rate_limited", { status: 429, headers: { "retry-after": "30" } }));
  const test = testDispatcher(channelYaml({ chan: "slack", webhookurl: api.url }), clock);
  try {
    const settled = test.dispatcher.publish(sampleRecord());
    await settle("the wait for the retry", () => test.logs.some((l) => l.includes("retrying")));
    const start = clock.now();
    let drained = false;
    const drain = test.dispatcher.drain().then(() => drained = true);
    // Simulated time runs on only while drain() waits, so any wait for the 429 shows as time passed.
    await test.simulate(() => drained);
    await drain;
    assert.equal(clock.now(), start, "drain() did not wait for the Retry-After");
    assert.equal(api.received.length, 1, "no attempt while the robot is blocked");
    assert.equal(await settled, false, "the caller learns the message still has to be sent");
    assert.ok(
      test.logs.some((l) =>
        l.includes("notification not delivered before shutdown; it is sent again after the restart") &&
        l.includes('error="slack HTTP 429: rate_limited"')
      ),
    );
    assert.equal(test.count("failed"), 0, "an interrupted message is not given up");
    assert.equal(clock.sleepers, 0);
  } finally {
    await api.stop();
  }
});

Deno.test("slack: plain-text error answers are final and logged as Slack wrote them", async () => {
  const clock = new VirtualClock();
  const api = fakeSlack(clock);
  const answers: [number, string][] = [
    [400, "invalid_payload"],
    [403, "action_prohibited"],
    [404, "channel_not_found"],
    [410, "channel_is_archived"],
  ];
  api.script(...answers.map(([status, text]) => () => textReply(text, { status })));
  const test = testDispatcher(
    channelYaml({ chan: "slack", webhookurl: api.url }, ["CrashLoop:", "  Enabled: false"]),
    clock,
  );
  try {
    for (let i = 0; i < answers.length; i++) test.dispatcher.publish(sampleRecord({ id: `${i}`.padStart(32, "0") }));
    await test.simulate(() => api.received.length === answers.length);
    await test.dispatcher.idle();
    assert.equal(test.count("failed"), answers.length);
    assert.equal(test.count("retried"), 0);
    const errors = test.logs.filter((l) => l.includes('msg="notification failed"'));
    answers.forEach(([status, text], i) =>
      assert.match(errors[i], new RegExp(`error="slack HTTP ${status}: ${text}"`))
    );
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});

Deno.test("slack: a long message is cut to 3000 characters, escapes included, between whole characters", async () => {
  const clock = new VirtualClock();
  const api = fakeSlack(clock);
  const yaml = channelYaml({ chan: "slack", webhookurl: api.url, template: `{pod.name} ${"a<b 崩溃👩‍💻 ".repeat(800)}` });
  const test = testDispatcher(yaml, clock);
  try {
    test.dispatcher.publish(sampleRecord());
    await test.dispatcher.idle();
    assert.equal(api.accepted.length, 1, "Slack accepted it (no invalid_blocks)");
    const text: string = api.received[0].json.blocks[0].text.text;
    assert.ok(text.length <= 3000 && text.length > 2980, `${text.length} characters`);
    assert.ok(text.endsWith(TRUNCATION_MARKER));
    const kept = text.slice(0, -TRUNCATION_MARKER.length);
    assert.ok(!/&(a|am|amp|l|lt|g|gt)?$/.test(kept), "no cut inside an entity");
    assert.ok(!kept.endsWith("\u200d") && !/[\uD800-\uDBFF]$/.test(kept), "no cut inside the emoji sequence");
  } finally {
    await test.dispatcher.drain();
    await api.stop();
  }
});
