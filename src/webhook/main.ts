/**
 * Entrypoint of the webhook role (the Deployment behind the
 * MutatingWebhookConfiguration).
 *
 * Usage: `coredog-webhook [--config <file>] [--port 8443] [--tls-cert <file>]
 * [--tls-key <file>] [--health-port 9103] [--shutdown-delay 2]
 * [--tls-mode files|self-managed] ...`; see `--help` and
 * `src/webhook/flags.ts` for the rest and the environment variables.
 *
 * @module
 */

import { ConfigError } from "../core/config.ts";
import { loadConfigFile } from "../config_file.ts";
import { openKubeClient } from "../kube/connect.ts";
import { createLogger, type Logger } from "../log.ts";
import { VERSION } from "../version.ts";
import { parseWebhookFlags, type WebhookFlags, webhookUsage } from "./flags.ts";
import { type SelfManagedTls, startSelfManagedTls } from "./self_managed_tls.ts";
import { startWebhookServer, type WebhookServer } from "./server.ts";

/** Options of {@linkcode runWebhook}. */
export interface RunWebhookOptions {
  logger: Logger;
}

/**
 * Runs the webhook with `flags` until SIGTERM or SIGINT, then drains.
 * Resolves with the exit code.
 */
async function runWebhook(flags: WebhookFlags, options: RunWebhookOptions): Promise<number> {
  const { logger } = options;
  const config = await loadConfigFile(flags.configPath);
  const selfManagedMode = flags.tlsMode === "self-managed";
  const server = startWebhookServer({
    corefileDir: config.corefileDir,
    // Self-managed TLS hands the pair over in memory instead.
    certFile: selfManagedMode ? undefined : flags.certFile,
    keyFile: selfManagedMode ? undefined : flags.keyFile,
    port: flags.port,
    hostname: flags.hostname,
    // 0 turns the health port off here: a port picked at random is of no use to a probe.
    healthPort: flags.healthPort || undefined,
    logger,
  });
  logger.info("coredog webhook starting", {
    version: VERSION,
    corefile_dir: config.corefileDir,
    port: flags.port,
    health_port: flags.healthPort || "off",
    tls: selfManagedMode ? "self-managed" : `${flags.certFile} ${flags.keyFile}`,
  });
  let selfManaged: SelfManagedTls | undefined;
  if (selfManagedMode) {
    try {
      selfManaged = await startTlsManagement(flags, options, server);
    } catch (error) {
      logger.error("cannot manage the webhook's TLS", { error: (error as Error).message });
      await server.shutdown();
      return 1;
    }
  }
  const signal = new Promise<Deno.Signal>((resolve) => {
    Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
    Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  });
  const first = await Promise.race([
    server.listening.then((addr) => ({ addr }), (error: Error) => ({ error })),
    signal.then((name) => ({ signal: name })),
  ]);
  if ("error" in first) {
    logger.error("cannot serve the webhook", { error: first.error.message });
    await selfManaged?.stop();
    await server.shutdown();
    return 1;
  }
  if ("addr" in first) {
    logger.info("webhook listening", {
      address: `${first.addr.hostname}:${first.addr.port}`,
      health: server.healthAddr ? `${server.healthAddr.hostname}:${server.healthAddr.port}` : "off",
    });
  }
  const received = await signal;
  await selfManaged?.stop();
  await drain(server, received, flags, logger);
  return 0;
}

/**
 * Starts keeping the CA and certificate in the Secret and the caBundle
 * current; the server picks up each pair as soon as it is written.
 *
 * @throws {Error} with no way to the API (no kubeconfig, no service account), or without a namespace.
 */
async function startTlsManagement(
  flags: WebhookFlags,
  options: RunWebhookOptions,
  server: WebhookServer,
): Promise<SelfManagedTls> {
  const client = await openKubeClient({ kubeconfig: flags.kubeconfig || undefined });
  if (!client) {
    throw new Error(
      "--tls-mode self-managed needs the Kubernetes API: run in a cluster with a service account token, " +
        "give --kubeconfig (or KUBECONFIG), or use --tls-mode files with a certificate",
    );
  }
  const kube = client.connection;
  // The context's namespace is a kubeconfig's choice for kubectl, not where this webhook's Secret is:
  // outside a pod, --namespace says it.
  const namespace = flags.namespace || (kube.inCluster ? kube.namespace : undefined);
  if (!namespace) throw new Error("--tls-mode self-managed needs --namespace (or COREDOG_WEBHOOK_NAMESPACE)");
  options.logger.info("managing the webhook's own CA and certificate", {
    secret: `${namespace}/${flags.tlsSecret}`,
    service: `${flags.service}.${namespace}.svc`,
    configuration: flags.webhookConfiguration,
    kubernetes: `${kube.server} via ${kube.source}`,
  });
  return startSelfManagedTls(client, {
    namespace,
    secretName: flags.tlsSecret,
    serviceName: flags.service,
    webhookConfigurationName: flags.webhookConfiguration,
    caValidityDays: flags.caValidityDays,
    certValidityDays: flags.certValidityDays,
    checkIntervalMs: flags.tlsCheckIntervalSeconds * 1000,
    logger: options.logger,
    onCertificate: (pair) => server.useCertificate(pair),
  });
}

async function drain(server: WebhookServer, signal: Deno.Signal, flags: WebhookFlags, logger: Logger): Promise<void> {
  // Readiness drops first so that the Service stops routing here while the port still answers.
  server.drain();
  logger.info("shutting down; finishing requests in flight", { signal, delay_seconds: flags.shutdownDelaySeconds });
  await new Promise((resolve) => setTimeout(resolve, flags.shutdownDelaySeconds * 1000));
  const drained = await server.shutdown();
  if (!drained) logger.warn("requests still in flight after the drain limit; exiting anyway");
  logger.info("coredog webhook stopped");
}

if (import.meta.main) {
  const logger = createLogger({ fields: { component: "webhook" } });
  let flags: WebhookFlags;
  try {
    flags = parseWebhookFlags(Deno.args, (name) => Deno.env.get(name));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${webhookUsage()}`);
    Deno.exit(2);
  }
  if (flags.help) {
    console.log(webhookUsage());
    Deno.exit(0);
  }
  try {
    Deno.exit(await runWebhook(flags, { logger }));
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error("invalid configuration", { file: flags.configPath });
      console.error(error.message);
    } else {
      logger.error("webhook failed", { error: (error as Error).message });
    }
    Deno.exit(1);
  }
}
