/**
 * The webhook's Prometheus metrics.
 *
 * @module
 */

import { type Counter, type Gauge, type Histogram, Registry } from "../metrics.ts";

/** Every metric the webhook exports. */
export interface WebhookMetrics {
  registry: Registry;
  /** AdmissionReview requests to /mutate, by HTTP status code. */
  requests: Counter;
  /** Pods that got a dump directory (a patch was returned). */
  injected: Counter;
  /** Pod creations left alone, by reason. */
  skipped: Counter;
  /** Requests answered with an error status, or with no patch because of a fault, by kind. */
  errors: Counter;
  /** Time to answer one /mutate request. */
  latency: Histogram;
  /** /mutate requests being answered now. */
  inFlight: Gauge;
  /** Certificate loads, by result (`loaded` or `failed`). */
  certificateLoads: Counter;
  /** End of validity of the certificate in use, Unix seconds. */
  certificateNotAfter: Gauge;
}

/** Creates the webhook's metrics in a fresh registry. */
export function createWebhookMetrics(): WebhookMetrics {
  const registry = new Registry();
  const inFlight = registry.gauge("coredog_webhook_requests_in_flight", "Requests to /mutate being answered now");
  // Shown as 0 from the start, so a dashboard can tell "idle" from "not scraped".
  inFlight.set(0);
  return {
    registry,
    requests: registry.counter("coredog_webhook_requests_total", "AdmissionReview requests to /mutate by status"),
    injected: registry.counter("coredog_webhook_injected_total", "Pods given a dump directory"),
    skipped: registry.counter("coredog_webhook_skipped_total", "Pod creations left unchanged, by reason"),
    errors: registry.counter("coredog_webhook_errors_total", "Malformed or failed /mutate requests, by kind"),
    latency: registry.histogram("coredog_webhook_request_seconds", "Time to answer one /mutate request", [
      0.0005,
      0.001,
      0.0025,
      0.005,
      0.01,
      0.05,
      0.25,
      1,
    ]),
    inFlight,
    certificateLoads: registry.counter(
      "coredog_webhook_certificate_loads_total",
      "Serving certificates put in service, by result",
    ),
    certificateNotAfter: registry.gauge(
      "coredog_webhook_certificate_not_after_seconds",
      "Expiry of the serving certificate in use, Unix time",
    ),
  };
}
