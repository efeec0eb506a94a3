import assert from "node:assert/strict";
import { assessReadiness, markClosed, observe } from "../src/core/readiness.ts";

const SETTINGS = { settleMs: 500, quietMs: 10_000, truncatedAfterMs: 60_000 };

Deno.test("a core closed after its last write is ready once it stayed unchanged for the settle time", () => {
  const t0 = 1_000_000;
  let state = observe(undefined, { size: 100, mtimeMs: t0 - 5 }, t0);
  state = markClosed(state, t0 + 1);
  assert.deepEqual(assessReadiness(state, t0 + 100, SETTINGS), { ready: false, reason: "settling" });
  state = observe(state, { size: 100, mtimeMs: t0 - 5 }, t0 + 600);
  assert.deepEqual(assessReadiness(state, t0 + 600, SETTINGS), { ready: true, truncated: false });
});

Deno.test("a file still growing is never ready, close event or not", () => {
  const t0 = 1_000_000;
  let state = markClosed(observe(undefined, { size: 100, mtimeMs: t0 }, t0), t0 + 1);
  state = observe(state, { size: 200, mtimeMs: t0 + 700 }, t0 + 700);
  assert.equal(assessReadiness(state, t0 + 700, SETTINGS).ready, false);
  // The earlier close came before this write, so it no longer counts.
  assert.deepEqual(assessReadiness(state, t0 + 1300, SETTINGS), { ready: false, reason: "quiet-wait" });
});

Deno.test("without a close event a file is ready only after the quiet time since its last write", () => {
  const t0 = 1_000_000;
  const state = observe(undefined, { size: 100, mtimeMs: t0 }, t0);
  assert.deepEqual(assessReadiness(state, t0 + 5_000, SETTINGS), { ready: false, reason: "quiet-wait" });
  assert.deepEqual(assessReadiness(state, t0 + 10_000, SETTINGS), { ready: true, truncated: false });
});

Deno.test("a core shorter than its headers promise waits, then is ready marked truncated", () => {
  const t0 = 1_000_000;
  let state = markClosed(observe(undefined, { size: 100, mtimeMs: t0 }, t0), t0 + 1);
  state = { ...state, expectedBytes: 4096 };
  assert.deepEqual(assessReadiness(state, t0 + 30_000, SETTINGS), { ready: false, reason: "short" });
  assert.deepEqual(assessReadiness(state, t0 + 60_000, SETTINGS), { ready: true, truncated: true });
});

Deno.test("a size change forgets the ELF size check", () => {
  const t0 = 1_000_000;
  const state = { ...observe(undefined, { size: 100, mtimeMs: t0 }, t0), expectedBytes: 4096 };
  assert.equal(observe(state, { size: 4096, mtimeMs: t0 + 10 }, t0 + 20).expectedBytes, undefined);
});
