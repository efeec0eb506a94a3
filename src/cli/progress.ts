/**
 * A one-line progress bar on stderr, for downloads of large cores. Only
 * drawn on a terminal: a pipe or a CI log gets no carriage returns.
 *
 * @module
 */

import { humanBytes } from "../core/template.ts";

/** Redraws at most this often, ms. */
const REDRAW_MS = 100;
const BAR_WIDTH = 30;

/** A progress bar; `update` with bytes done, `finish` once. */
export interface Progress {
  update(done: number): void;
  finish(): void;
}

/** The bar's text for `done` of `total` bytes. */
export function progressLine(done: number, total: number): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(fraction * BAR_WIDTH);
  const percent = String(Math.floor(fraction * 100)).padStart(3);
  return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${percent}% ${humanBytes(done)} / ${
    humanBytes(total)
  }`;
}

/** A bar that writes with `write` when `enabled`, else does nothing. */
export function createProgress(
  total: number,
  options: { enabled: boolean; write: (text: string) => void; now?: () => number },
): Progress {
  if (!options.enabled) return { update() {}, finish() {} };
  const now = options.now ?? (() => performance.now());
  let last = -Infinity;
  let shown = 0;
  return {
    update(done: number) {
      shown = done;
      if (now() - last < REDRAW_MS) return;
      last = now();
      options.write(`\r${progressLine(done, total)}`);
    },
    finish() {
      options.write(`\r${progressLine(shown, total)}\n`);
    },
  };
}
