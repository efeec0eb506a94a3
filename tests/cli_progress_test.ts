/**
 * The download progress bar: drawn only on a terminal, at most every
 * 100 ms, always ending on the final count.
 */

import assert from "node:assert/strict";
import { createProgress, progressLine } from "../src/cli/progress.ts";

Deno.test("the bar shows the fraction done and the byte counts", () => {
  assert.equal(progressLine(0, 2048), `[${".".repeat(30)}]   0% 0 B / 2.0 KiB`);
  assert.equal(progressLine(1024, 2048), `[${"#".repeat(15)}${".".repeat(15)}]  50% 1.0 KiB / 2.0 KiB`);
  assert.equal(progressLine(4096, 2048), `[${"#".repeat(30)}] 100% 4.0 KiB / 2.0 KiB`);
});

Deno.test("redrawn at most every 100 ms, finished with the last count and a newline; nothing when not a terminal", () => {
  let now = 0;
  const written: string[] = [];
  const bar = createProgress(1000, { enabled: true, write: (t) => written.push(t), now: () => now });
  bar.update(100);
  now = 50;
  bar.update(200);
  now = 150;
  bar.update(900);
  bar.update(1000);
  bar.finish();
  assert.deepEqual(written, [
    `\r${progressLine(100, 1000)}`,
    `\r${progressLine(900, 1000)}`,
    `\r${progressLine(1000, 1000)}\n`,
  ]);
  const silent: string[] = [];
  const off = createProgress(1000, { enabled: false, write: (t) => silent.push(t) });
  off.update(500);
  off.finish();
  assert.deepEqual(silent, []);
});
