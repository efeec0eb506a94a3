/**
 * The webhook's HTTP endpoints: `/mutate` (AdmissionReview v1), `/healthz`,
 * `/readyz` and `/metrics`.
 *
 * A request that is not a well-formed AdmissionReview gets a 4xx status
 * and a one-line reason, never a patch. Once the review is understood, the
 * answer is always `allowed: true`: even an internal fault only costs the
 * pod its dump directory, never its creation.
 *
 * @module
 */

import { admissionResponse, parseAdmissionReview } from "../core/admission_review.ts";
import { clipWarning } from "../core/injection_rules.ts";
import { mutateAdmission } from "../core/pod_mutation.ts";
import { type HealthChecks, healthResponse } from "../health_server.ts";
import type { Logger } from "../log.ts";
import type { WebhookMetrics } from "./webhook_metrics.ts";

/**
 * Largest accepted body. kube-apiserver caps objects at about 3 MiB in etcd
 * and an AdmissionReview can carry the object twice, so 6 MiB fits any
 * real request and stops a runaway one before it costs much memory.
 */
const MAX_BODY_BYTES = 6 * 1024 * 1024;

/** Options of {@linkcode createWebhookHandler}. */
export interface WebhookHandlerOptions {
  /** `CorefileDir`, the directory on the nodes. */
  corefileDir: string;
  logger: Logger;
  metrics: WebhookMetrics;
  /** Ready: a certificate is loaded and the server is not draining. */
  ready(): boolean;
  /** Decides on a review; {@linkcode mutateAdmission} unless a test makes it fail. */
  mutate?: typeof mutateAdmission;
}

/** The probes of the webhook, on its HTTPS port and on its plain health port alike. */
export function webhookHealthChecks(options: Pick<WebhookHandlerOptions, "metrics" | "ready">): HealthChecks {
  return {
    registry: options.metrics.registry,
    healthy: () => true,
    ready: options.ready,
    notReadyReason: "no certificate loaded, or draining",
  };
}

/** Creates the request handler of the HTTPS port: `/mutate` and the probes. */
export function createWebhookHandler(options: WebhookHandlerOptions): (request: Request) => Promise<Response> {
  const health = webhookHealthChecks(options);
  return async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/mutate") return await mutate(request, options);
    return healthResponse(request, health) ??
      text(404, "not found; the webhook serves /mutate, /healthz, /readyz and /metrics\n");
  };
}

async function mutate(request: Request, options: WebhookHandlerOptions): Promise<Response> {
  const started = performance.now();
  const { logger, metrics } = options;
  metrics.inFlight.set(metrics.inFlight.get() + 1);
  try {
    const response = await answer(request, options);
    metrics.requests.inc({ code: String(response.status) });
    metrics.latency.observe((performance.now() - started) / 1000);
    return response;
  } finally {
    metrics.inFlight.set(metrics.inFlight.get() - 1);
  }

  async function answer(request: Request, options: WebhookHandlerOptions): Promise<Response> {
    if (request.method !== "POST") {
      return refuse(405, "method-not-allowed", `use POST, not ${request.method}`, { allow: "POST" });
    }
    const contentType = request.headers.get("content-type") ?? "";
    if (contentType.split(";")[0].trim().toLowerCase() !== "application/json") {
      return refuse(415, "unsupported-media-type", `content-type must be application/json, got "${contentType}"`);
    }
    let body: string | undefined;
    try {
      body = await readLimited(request, MAX_BODY_BYTES);
    } catch (error) {
      return refuse(400, "bad-request", `cannot read the body: ${(error as Error).message}`);
    }
    if (body === undefined) return refuse(413, "too-large", `the body is larger than ${MAX_BODY_BYTES} bytes`);
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) return refuse(400, "bad-request", parsed.error);
    const review = parsed.review;
    try {
      const mutation = (options.mutate ?? mutateAdmission)(review, { corefileDir: options.corefileDir });
      const outcome = mutation.outcome;
      const uid = review.request.uid;
      if (outcome.kind === "injected") {
        metrics.injected.inc();
        logger.info("injected dump directory", {
          pod: outcome.pod,
          path: outcome.mountPath,
          containers: outcome.containers.join(","),
          warnings: mutation.warnings.length > 0 ? mutation.warnings.join("; ") : undefined,
          uid,
        });
      } else if (outcome.kind === "skipped") {
        metrics.skipped.inc({ reason: outcome.reason });
        logger.info(outcome.message, { reason: outcome.reason, uid });
      } else {
        logger.debug("not a pod creation; allowed unchanged", {
          resource: review.request.resource?.resource,
          operation: review.request.operation,
          uid,
        });
      }
      return json(200, mutation.response);
    } catch (error) {
      // The promise is "never deny": a fault costs the pod its dump directory only.
      metrics.errors.inc({ kind: "internal" });
      logger.error("cannot decide on the pod; allowing it unchanged", {
        error: (error as Error).message,
        uid: review.request.uid,
      });
      return json(200, admissionResponse(review, { warnings: [clipWarning("not injected: internal error")] }));
    }
  }

  function refuse(status: number, kind: string, message: string, headers: Record<string, string> = {}): Response {
    metrics.errors.inc({ kind });
    logger.warn("malformed admission request", { status, error: message });
    return text(status, `${message}\n`, headers);
  }
}

/** Reads the body as text, or undefined as soon as it passes `limit` bytes. */
async function readLimited(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await request.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}
