/**
 * Retry delays: exponential backoff with jitter, so that a fleet of
 * watchers does not hammer a recovering object store in lockstep.
 *
 * @module
 */

/** Options of {@linkcode retryDelayMs}. */
export interface BackoffOptions {
  /** First delay, ms. */
  baseMs?: number;
  /** Longest delay, ms. */
  maxMs: number;
  /** A number in [0, 1), `Math.random()` by default; fixed in tests. */
  random?: number;
}

/**
 * Delay before retry number `attempt` (1 for the first retry): half of the
 * capped exponential delay plus a random share of the other half.
 */
export function retryDelayMs(attempt: number, options: BackoffOptions): number {
  const base = options.baseMs ?? 1000;
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, base * 2 ** exponent);
  const random = options.random ?? Math.random();
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
