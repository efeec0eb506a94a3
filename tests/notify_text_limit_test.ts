/**
 * Cutting messages to an API's size limit without breaking characters.
 */

import assert from "node:assert/strict";
import { jsonStringBytes, truncateText, TRUNCATION_MARKER, utf16Units, utf8Bytes } from "../src/core/text_limit.ts";

Deno.test("text that fits is returned unchanged, exactly at the limit too", () => {
  assert.equal(truncateText("核心转储", 12), "核心转储");
  assert.equal(truncateText("abc", 3), "abc");
});

Deno.test("UTF-8 limits: 3-byte and 4-byte characters are never split, at every limit", () => {
  const text = "核心😀转储🧨e\u0301x".repeat(40);
  const marker = utf8Bytes(TRUNCATION_MARKER);
  for (let limit = marker; limit <= utf8Bytes(text); limit++) {
    const cut = truncateText(text, limit);
    assert.ok(utf8Bytes(cut) <= limit, `limit ${limit}: ${utf8Bytes(cut)} bytes`);
    assert.ok(utf8Bytes(cut) > limit - 5 - 1 || cut === text, `limit ${limit}: room wasted`);
    const kept = cut.endsWith(TRUNCATION_MARKER) ? cut.slice(0, -TRUNCATION_MARKER.length) : cut;
    assert.ok(text.startsWith(kept));
    assert.ok(!/[\uD800-\uDBFF]$/.test(kept), `limit ${limit}: half a surrogate pair`);
    assert.ok(!kept.endsWith("e"), `limit ${limit}: the combining accent was cut off its letter`);
    assert.ok(!new TextDecoder("utf-8", { fatal: true }).decode(new TextEncoder().encode(cut)).includes("\uFFFD"));
  }
});

Deno.test("emoji sequences (ZWJ, flags, skin tones) stay whole", () => {
  const text = "👩‍💻🇨🇳👍🏽".repeat(10);
  const cut = truncateText(text, 60, { marker: "…" });
  const kept = cut.slice(0, -1);
  assert.ok(utf8Bytes(cut) <= 60);
  const whole = ["👩‍💻", "🇨🇳", "👍🏽"];
  let rest = kept;
  while (rest.length > 0) {
    const next = whole.find((g) => rest.startsWith(g));
    assert.ok(next, `broken sequence in ${JSON.stringify(kept)}`);
    rest = rest.slice(next.length);
  }
});

Deno.test("character limits (Slack) and JSON-escaped byte limits (Feishu)", () => {
  const slack = truncateText("x".repeat(5000), 3000, { measure: utf16Units });
  assert.equal(slack.length, 3000);
  assert.ok(slack.endsWith(TRUNCATION_MARKER));
  const json = truncateText('"\n'.repeat(100), 50, { measure: jsonStringBytes });
  assert.ok(jsonStringBytes(json) <= 50);
  assert.ok(json.startsWith('"\n"\n'));
});

Deno.test("when not even the marker fits, the text is cut without it rather than exceed the limit", () => {
  assert.equal(truncateText("核心转储", 7), "核心");
  assert.equal(truncateText("核心转储", 2), "");
});
