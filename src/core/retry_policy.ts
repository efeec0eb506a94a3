/**
 * When to try a notification again and when to give up: pure decisions on
 * an attempt's result and the time, so that tests can replay an outage in
 * simulated time.
 *
 * Network errors, 5xx and rate-limit answers are retried with backoff (an
 * API's `Retry-After` wins over the computed delay); answers that say the
 * request itself is wrong (bad webhook key, bad signature) are not, since
 * repeating them cannot succeed. Every message gets at least one attempt,
 * however late, and none is retried past its deadline.
 *
 * @module
 */

import { retryDelayMs } from "./backoff.ts";

/** An attempt the API did not accept. */
export interface FailedAttempt {
  /** Always false. */
  ok: false;
  /** True when trying again may succeed (network error, 5xx, rate limit). */
  retry: boolean;
  /** The API's own error text, for the log. */
  error: string;
  /** How long the API asked to wait, ms. */
  retryAfterMs?: number;
}

/** What one delivery attempt gave. */
export type AttemptResult = { ok: true } | FailedAttempt;

/** Shortest wait before a retry, so that `Retry-After: 0` cannot make a tight loop. */
const MIN_RETRY_DELAY_MS = 250;

/** First backoff delay, ms: the documented 1 s, 2 s, 4 s... */
const RETRY_BASE_MS = 1000;

/** Where a delivery stands. */
export interface DeliveryState {
  /** Attempts made so far, including the one whose result is judged. */
  attempt: number;
  /** Current time, ms. */
  now: number;
  /** No retry may start after this time. */
  deadline: number;
}

/** Options of {@linkcode nextStep}. */
export interface RetryPolicyOptions {
  /** Longest backoff delay, ms. */
  maxMs: number;
  /** A number in [0, 1) for the jitter; random by default. */
  random?: number;
}

/** What to do after an attempt. */
export type NextStep =
  | { kind: "done" }
  | { kind: "retry"; delayMs: number }
  | { kind: "give-up"; reason: string };

/** Decides what follows an attempt that gave `result`. */
export function nextStep(result: AttemptResult, state: DeliveryState, options: RetryPolicyOptions): NextStep {
  if (result.ok) return { kind: "done" };
  if (!result.retry) return { kind: "give-up", reason: "the API refused the message; retrying cannot help" };
  const delayMs = result.retryAfterMs !== undefined
    ? Math.max(MIN_RETRY_DELAY_MS, Math.round(result.retryAfterMs))
    : retryDelayMs(state.attempt, { baseMs: RETRY_BASE_MS, maxMs: options.maxMs, random: options.random });
  if (state.now + delayMs > state.deadline) {
    return { kind: "give-up", reason: `still failing after ${state.attempt} attempts; the give-up time is reached` };
  }
  return { kind: "retry", delayMs };
}

/**
 * Reads a `Retry-After` header (delay seconds or an HTTP date) as
 * milliseconds from `now`; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
