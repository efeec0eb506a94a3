/**
 * Simulated time for the notification machinery: sleeping parks the
 * caller until the test moves the clock past its wake-up time, so minutes
 * of rate limits, Retry-After waits and crash-loop windows run in
 * milliseconds while real HTTP still goes over real sockets.
 */

import type { Clock } from "../../src/notify/clock.ts";

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A {@linkcode Clock} that only moves when told to. */
export class VirtualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  /** Starts at `start` ms (a fixed date by default, so signatures and ISO times are stable). */
  constructor(start = Date.UTC(2025, 0, 6, 9, 0, 0)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const sleeper: Sleeper = { at: this.#now + Math.max(0, ms), resolve };
      signal?.addEventListener("abort", () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal.reason);
      }, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Callers currently waiting. */
  get sleepers(): number {
    return this.#sleepers.length;
  }

  /** The earliest wake-up time, or undefined when nobody waits. */
  nextWakeAt(): number | undefined {
    return this.#sleepers.length === 0 ? undefined : Math.min(...this.#sleepers.map((s) => s.at));
  }

  /** Moves time to `to` (never backwards) and wakes every sleeper due by then. */
  advanceTo(to: number): void {
    this.#now = Math.max(this.#now, to);
    const due = this.#sleepers.filter((s) => s.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const sleeper of due) sleeper.resolve();
  }

  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }
}

/** Options of {@linkcode runSimulated}. */
export interface RunSimulatedOptions {
  /** True while real I/O is under way (an HTTP request), during which time must not jump. */
  busy?: () => boolean;
  /** Real-time limit, ms. */
  timeoutMs?: number;
}

/**
 * Runs simulated time until `done()`: waits (in real time) until nobody is
 * busy with real I/O and somebody sleeps, then jumps to the earliest
 * wake-up. Between the end of a request and the next sleep there are only
 * microtasks, which finish before this loop's next real-time poll.
 */
export async function runSimulated(
  clock: VirtualClock,
  done: () => boolean,
  options: RunSimulatedOptions = {},
): Promise<void> {
  const busy = options.busy ?? (() => false);
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    // A real-time pause first lets pending microtasks (a request about to start) run.
    do {
      if (Date.now() > deadline) throw new Error(`simulation stuck at ${new Date(clock.now()).toISOString()}`);
      await new Promise((r) => setTimeout(r, 2));
    } while (!done() && (clock.sleepers === 0 || busy()));
    if (done()) return;
    clock.advanceTo(clock.nextWakeAt()!);
  }
}

/** Waits in real time until `check()` holds (for I/O that simulated time does not drive). */
export async function settle(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
