/**
 * Time for the notification machinery, injectable so that tests can run
 * minutes of rate limits, retries and crash-loop windows in simulated time.
 *
 * @module
 */

/** A source of time and of waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      function onAbort(): void {
        clearTimeout(timer);
        reject(signal!.reason);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
