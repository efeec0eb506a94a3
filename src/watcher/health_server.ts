/**
 * `/healthz`, `/readyz` and `/metrics` for the watcher's probes and
 * Prometheus.
 *
 * @module
 */

import type { Registry } from "../metrics.ts";

/** Options of {@linkcode serveHealth}. */
export interface HealthOptions {
  port: number;
  registry: Registry;
  /** Alive: the process can still do its job. */
  healthy(): boolean;
  /** Ready: the first full scan of the dump root finished. */
  ready(): boolean;
}

/** Starts the health server; returns it so that it can be shut down. */
export function serveHealth(options: HealthOptions): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ port: options.port, hostname: "0.0.0.0", onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") return status(options.healthy(), "ok", "unhealthy");
    if (path === "/readyz") return status(options.ready(), "ready", "not ready: the first scan has not finished");
    if (path === "/metrics") {
      return new Response(options.registry.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return new Response("not found\n", { status: 404 });
  });
}

function status(ok: boolean, yes: string, no: string): Response {
  return new Response(`${ok ? yes : no}\n`, { status: ok ? 200 : 503 });
}
