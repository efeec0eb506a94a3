/**
 * Delivering one message through one channel: wait for the rate limit,
 * attempt, and retry with backoff until the API accepts it, refuses it for
 * good, or the message's give-up time comes. All waiting goes through the
 * injected clock.
 *
 * @module
 */

import { type AttemptResult, nextStep } from "../core/retry_policy.ts";
import type { RateWindow } from "../core/rate_limit.ts";
import type { Clock } from "./clock.ts";
import type { Notification, Notifier } from "./notifier.ts";

/** A retry about to be waited for. */
export interface RetryInfo {
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /** What the API said. */
  error: string;
  /** Wait before the next attempt, ms. */
  delayMs: number;
}

/** Options of {@linkcode deliver}. */
export interface DeliverOptions {
  /** Time and waiting. */
  clock: Clock;
  /** The API's rate limit, shared by every channel posting to the same robot. */
  rate?: RateWindow;
  /** No retry starts after this time, ms. */
  deadline: number;
  /** Longest backoff between attempts, ms. */
  retryMaxMs: number;
  /** Called before each wait for a retry (for the log and metrics). */
  onRetry?: (info: RetryInfo) => void;
  /** Jitter source, `Math.random` by default. */
  random?: () => number;
  /**
   * Aborted at shutdown: a wait for a retry ends at once, and a message
   * that then fails again is left for the restart instead of waiting for
   * its deadline; so is one still waiting for the rate limit.
   */
  signal?: AbortSignal;
}

/** How a delivery ended. */
export type DeliveryOutcome =
  | { delivered: true; attempts: number }
  | {
    delivered: false;
    attempts: number;
    error: string;
    reason: string;
    /** True when shutdown, not the API or the deadline, ended the delivery. */
    interrupted?: boolean;
  };

/** Delivers `notification` through `notifier`; never rejects. */
export async function deliver(
  notifier: Notifier,
  notification: Notification,
  options: DeliverOptions,
): Promise<DeliveryOutcome> {
  const { clock, rate } = options;
  let lastError = "";
  for (let attempt = 1;; attempt++) {
    if (rate) {
      for (let wait = rate.waitMs(clock.now()); wait > 0; wait = rate.waitMs(clock.now())) {
        try {
          await clock.sleep(wait, options.signal);
        } catch {
          // Shutdown: the window may be closed for a whole Retry-After (a 429
          // blocks it), so the message is left for the restart instead.
          return interrupted(attempt - 1, lastError || "the API's rate limit allowed no attempt before shutdown");
        }
      }
      rate.record(clock.now());
    }
    let result: AttemptResult;
    try {
      result = await notifier.attempt(notification, { now: clock.now() });
    } catch (error) {
      result = { ok: false, retry: false, error: `the channel failed: ${(error as Error).message}` };
    }
    if (!result.ok && result.retryAfterMs !== undefined) rate?.block(clock.now() + result.retryAfterMs);
    if (!result.ok && options.signal?.aborted) return interrupted(attempt, result.error);
    const step = nextStep(result, { attempt, now: clock.now(), deadline: options.deadline }, {
      maxMs: options.retryMaxMs,
      random: (options.random ?? Math.random)(),
    });
    if (step.kind === "done") return { delivered: true, attempts: attempt };
    const error = result.ok ? "" : result.error;
    lastError = error;
    if (step.kind === "give-up") return { delivered: false, attempts: attempt, error, reason: step.reason };
    options.onRetry?.({ attempt, error, delayMs: step.delayMs });
    await clock.sleep(step.delayMs, options.signal).catch(() => {
      // Shutdown cut the wait short: one last attempt follows if the rate limit allows it now.
    });
  }
}

/** The outcome of a delivery that shutdown ended; the ledger re-sends the message after the restart. */
function interrupted(attempts: number, error: string): DeliveryOutcome {
  return { delivered: false, attempts, error, reason: "CoreDog is shutting down", interrupted: true };
}
