/**
 * `/healthz`, `/readyz` and `/metrics`, for the probes and Prometheus of
 * both roles: the answers ({@linkcode healthResponse}) and the plain-HTTP
 * port that serves them ({@linkcode serveHealth}). The webhook also answers
 * them on its HTTPS port, with the same function.
 *
 * @module
 */

import type { Registry } from "./metrics.ts";

/** What the probes ask about. */
export interface HealthChecks {
  /** The metrics `/metrics` renders. */
  registry: Registry;
  /** Alive: the process can still do its job. */
  healthy(): boolean;
  /** Ready for work (the watcher: first scan done; the webhook: a certificate loaded, not draining). */
  ready(): boolean;
  /** Why the process is not ready, for `/readyz`, e.g. "the first scan has not finished". */
  notReadyReason: string;
}

/** Options of {@linkcode serveHealth}. */
export interface HealthServerOptions extends HealthChecks {
  /** 0 picks a free port. */
  port: number;
  /** `0.0.0.0` by default, so that the kubelet can reach the pod. */
  hostname?: string;
}

/** The answer to a probe or scrape, or undefined when `request` is for another path. */
export function healthResponse(request: Request, checks: HealthChecks): Response | undefined {
  const path = new URL(request.url).pathname;
  if (path !== "/healthz" && path !== "/readyz" && path !== "/metrics") return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") return text(405, "use GET\n", { allow: "GET, HEAD" });
  if (path === "/healthz") return checks.healthy() ? text(200, "ok\n") : text(503, "unhealthy\n");
  if (path === "/readyz") {
    return checks.ready() ? text(200, "ready\n") : text(503, `not ready: ${checks.notReadyReason}\n`);
  }
  return text(200, checks.registry.render(), { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
}

/**
 * Serves {@linkcode healthResponse} on plain HTTP; every other path is a 404.
 * Returns the server so that it can be shut down.
 *
 * @throws {Error} when the port cannot be bound.
 */
export function serveHealth(options: HealthServerOptions): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { port: options.port, hostname: options.hostname ?? "0.0.0.0", onListen() {} },
    (request) =>
      healthResponse(request, options) ?? text(404, "not found; this port serves /healthz, /readyz and /metrics\n"),
  );
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}
