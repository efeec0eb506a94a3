/**
 * Sliding-window rate limits for chat APIs ("20 messages a minute per
 * robot"), as plain state and arithmetic on timestamps so that tests can
 * drive them with simulated time.
 *
 * A message that would exceed a limit waits; nothing here drops anything.
 *
 * @module
 */

/** At most `limit` requests in any `windowMs` milliseconds. */
export interface RateRule {
  /** Requests allowed in any window. */
  limit: number;
  /** Length of the window, ms. */
  windowMs: number;
}

/**
 * The requests sent to one API endpoint and when the next may go.
 * Channels that post to the same robot share one window, because the API
 * counts per robot, not per CoreDog channel.
 */
export class RateWindow {
  /** Every rule the window enforces. */
  readonly rules: readonly RateRule[];
  #sent: number[] = [];
  #blockedUntil = 0;

  /** A window enforcing every rule in `rules` at once (e.g. 100 a minute and 5 a second). */
  constructor(rules: readonly RateRule[]) {
    this.rules = rules;
  }

  /** Milliseconds to wait from `now` before the next request may be sent; 0 when it may go now. */
  waitMs(now: number): number {
    let until = this.#blockedUntil;
    for (const rule of this.rules) {
      if (rule.limit < 1) continue;
      const inWindow = this.#sent.filter((t) => t > now - rule.windowMs);
      if (inWindow.length >= rule.limit) {
        // The request that must leave the window before another may enter.
        const leaving = inWindow[inWindow.length - rule.limit];
        until = Math.max(until, leaving + rule.windowMs);
      }
    }
    return Math.max(0, until - now);
  }

  /** Notes a request sent at `now`. */
  record(now: number): void {
    this.#sent.push(now);
    const longest = Math.max(0, ...this.rules.map((r) => r.windowMs));
    while (this.#sent.length > 0 && this.#sent[0] <= now - longest) this.#sent.shift();
  }

  /** Holds every request back until `until` (the API asked to slow down, e.g. `Retry-After`). */
  block(until: number): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, until);
  }
}
