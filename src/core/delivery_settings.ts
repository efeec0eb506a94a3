/**
 * How hard messages are delivered: the `Notify` section in the units the
 * dispatcher uses.
 *
 * @module
 */

import { NOTIFY_KEYS } from "./config_schema.ts";

/** How hard messages are delivered, from `Notify`. */
export interface DeliverySettings {
  /** A message not accepted this long after it was queued (once its core is stored) is given up, ms. */
  giveUpAfterMs: number;
  /** Longest backoff between attempts, ms. */
  retryMaxMs: number;
  /** Longest time one request may take, ms. */
  requestTimeoutMs: number;
}

/** {@linkcode DeliverySettings} when `Notify` is empty. */
export const DEFAULT_DELIVERY: DeliverySettings = deliveryFrom({
  GiveUpAfterMinutes: NOTIFY_KEYS.GiveUpAfterMinutes.default,
  RetryMaxSeconds: NOTIFY_KEYS.RetryMaxSeconds.default,
  RequestTimeoutSeconds: NOTIFY_KEYS.RequestTimeoutSeconds.default,
});

/** `Notify` values (minutes and seconds, as configured) in the milliseconds the dispatcher uses. */
export function deliveryFrom(values: Record<string, unknown>): DeliverySettings {
  return {
    giveUpAfterMs: Number(values.GiveUpAfterMinutes) * 60_000,
    retryMaxMs: Number(values.RetryMaxSeconds) * 1000,
    requestTimeoutMs: Number(values.RequestTimeoutSeconds) * 1000,
  };
}
