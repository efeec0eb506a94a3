/**
 * The webhook server: HTTPS on the webhook port once a certificate is
 * loaded, the certificate kept in step with its files (or handed over by
 * self-managed TLS, which keeps it in memory), and optionally a plain-HTTP
 * port for probes and Prometheus that answers from the start (so
 * `/readyz` can say "no certificate yet" instead of refusing).
 *
 * @module
 */

import { corefileDirProblem } from "../core/pod_patch.ts";
import { serveHealth } from "../health_server.ts";
import type { Logger } from "../log.ts";
import { describeCertificate } from "../tls/certificates.ts";
import { type CertificateFiles, type CertificateReloader, watchCertificateFiles } from "./cert_reloader.ts";
import { createWebhookHandler, webhookHealthChecks } from "./handler.ts";
import { type CertificatePair, type ListenError, type ReloadableTlsServer, serveTls } from "./tls_server.ts";
import { createWebhookMetrics, type WebhookMetrics } from "./webhook_metrics.ts";

/** The webhook's port unless told otherwise. */
export const DEFAULT_WEBHOOK_PORT = 8443;

/** Options of {@linkcode startWebhookServer}. */
export interface WebhookServerOptions extends Partial<CertificateFiles> {
  /** `CorefileDir`, the directory on the nodes and the hostPath of the injected volume. */
  corefileDir: string;
  logger: Logger;
  /** HTTPS port; {@linkcode DEFAULT_WEBHOOK_PORT} by default, 0 picks a free one. */
  port?: number;
  /** Address to listen on; `0.0.0.0` by default. */
  hostname?: string;
  /** Plain-HTTP port for `/healthz`, `/readyz` and `/metrics` (0 picks a free one); none when undefined. */
  healthPort?: number;
  /** Time between looks at the certificate files, ms; 5000 by default. */
  certCheckIntervalMs?: number;
}

/** A running webhook. */
export interface WebhookServer {
  /** Resolves with the HTTPS address once the first certificate is loaded; rejects if the port cannot be bound. */
  listening: Promise<Deno.NetAddr>;
  /** Address of the plain-HTTP health port, when there is one. */
  healthAddr?: Deno.NetAddr;
  metrics: WebhookMetrics;
  /** Ready: a certificate is loaded and the server is not draining. */
  ready(): boolean;
  /**
   * Serves `pair` from now on (new connections; requests in flight finish
   * on the previous certificate). For certificates that do not come from files.
   *
   * @throws {Error} when the pair is unusable; the previous one stays in use.
   */
  useCertificate(pair: CertificatePair): void;
  /** Reports not ready from now on, so that endpoints stop sending requests; keeps serving. */
  drain(): void;
  /**
   * Stops accepting, finishes requests in flight, closes everything.
   * Resolves false when requests were still in flight at the drain limit.
   */
  shutdown(): Promise<boolean>;
}

/**
 * Starts the webhook. The HTTPS port opens when the certificate files can
 * first be read and loaded (or, without files, at the first
 * `useCertificate`); until then the server waits.
 *
 * @throws {Error} when CorefileDir cannot be a hostPath or the health
 * port cannot be bound.
 */
export function startWebhookServer(options: WebhookServerOptions): WebhookServer {
  const problem = corefileDirProblem(options.corefileDir);
  if (problem) throw new Error(`CorefileDir cannot be the webhook's hostPath: ${problem}`);
  const { logger } = options;
  const metrics = createWebhookMetrics();
  let tls: ReloadableTlsServer | undefined;
  let draining = false;
  let serving = false;
  const ready = () => serving && !draining;
  const handlerOptions = { corefileDir: options.corefileDir, logger, metrics, ready };
  const handler = createWebhookHandler(handlerOptions);
  const onError = (error: unknown) => {
    metrics.errors.inc({ kind: "internal" });
    logger.error("request failed", { error: (error as Error)?.message ?? String(error) });
    return new Response("internal error\n", { status: 500 });
  };

  const health = options.healthPort !== undefined
    ? serveHealth({ port: options.healthPort, hostname: options.hostname, ...webhookHealthChecks(handlerOptions) })
    : undefined;

  let resolveListening!: (addr: Deno.NetAddr) => void;
  let rejectListening!: (error: Error) => void;
  const listening = new Promise<Deno.NetAddr>((resolve, reject) => {
    resolveListening = resolve;
    rejectListening = reject;
  });
  // Callers that never await `listening` must not see an unhandled rejection at shutdown.
  listening.catch(() => {});

  /** Puts `pair` in service; counts and rethrows a pair that cannot serve. */
  function load(pair: CertificatePair): void {
    try {
      apply(pair);
    } catch (error) {
      metrics.certificateLoads.inc({ result: "failed" });
      throw error;
    }
  }

  function apply(pair: CertificatePair): void {
    if (tls) {
      tls.reload(pair);
    } else {
      tls = serveTls(pair, {
        port: options.port ?? DEFAULT_WEBHOOK_PORT,
        hostname: options.hostname,
        handler,
        onError,
        onListenerProblem: ({ noDelay, problem }) => {
          const effect = noDelay
            ? "a certificate swap may reset a connection that arrives during it"
            : "each answer waits for the API server's delayed ACK (about 44 ms)";
          logger.warn(`the webhook's listening socket could not be fully set up: ${effect}`, { problem });
        },
        onSwapError: (error) => {
          metrics.certificateLoads.inc({ result: "failed" });
          logger.error("cannot load the new certificate; serving the previous one", {
            error: (error as Error)?.message ?? String(error),
          });
        },
      });
      // A port problem will not go away with the next certificate: `listening` rejects, and the caller gives up.
      tls.listening.then((addr) => {
        serving = true;
        resolveListening(addr);
      }, (error: ListenError) => {
        logger.error("cannot open the webhook port", { error: error.message });
        rejectListening(error);
      });
    }
    const summary = describeCertificate(pair.certPem);
    metrics.certificateLoads.inc({ result: "loaded" });
    metrics.certificateNotAfter.set(Math.floor(summary.notAfter.getTime() / 1000));
    logger.info("serving certificate loaded", {
      subject: summary.subject,
      dns: summary.dnsNames.join(","),
      serial: summary.serialNumber,
      not_after: summary.notAfter.toISOString(),
    });
    if (summary.notAfter.getTime() < Date.now()) {
      logger.error("the serving certificate has expired; kube-apiserver will refuse it", {
        not_after: summary.notAfter.toISOString(),
      });
    }
  }

  // Without files the certificate comes through useCertificate (self-managed TLS).
  const reloader: CertificateReloader | undefined = options.certFile && options.keyFile
    ? watchCertificateFiles({ certFile: options.certFile, keyFile: options.keyFile }, {
      apply: load,
      logger,
      intervalMs: options.certCheckIntervalMs,
    })
    : undefined;

  return {
    listening,
    healthAddr: health?.addr,
    metrics,
    ready,
    useCertificate: load,
    drain(): void {
      draining = true;
    },
    async shutdown(): Promise<boolean> {
      draining = true;
      await reloader?.stop();
      rejectListening(new Error("the webhook shut down before a certificate was loaded"));
      const drained = (await tls?.shutdown()) ?? true;
      await health?.shutdown();
      return drained;
    },
  };
}
