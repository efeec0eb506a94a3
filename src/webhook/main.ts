/**
 * Entrypoint of the webhook role (the Deployment behind the
 * MutatingWebhookConfiguration).
 *
 * Usage: `coredog-webhook [--config <file>] [--port 8443] [--tls-cert <file>]
 * [--tls-key <file>] [--health-port 9103] [--shutdown-delay 2]`; see
 * `--help` and `src/webhook/flags.ts` for the environment variables.
 *
 * @module
 */

import { ConfigError } from "../core/config.ts";
import { loadConfigFile } from "../config_file.ts";
import { createLogger, type Logger } from "../log.ts";
import { VERSION } from "../version.ts";
import { parseWebhookFlags, type WebhookFlags, webhookUsage } from "./flags.ts";
import { startWebhookServer, type WebhookServer } from "./server.ts";

/**
 * Longest wait for requests in flight after SIGTERM. kube-apiserver gives
 * a webhook call at most 30 seconds, so nothing useful is cut off.
 */
const DRAIN_LIMIT_MS = 30_000;

/** Options of {@linkcode runWebhook}. */
export interface RunWebhookOptions {
  logger: Logger;
}

/**
 * Runs the webhook with `flags` until SIGTERM or SIGINT, then drains.
 * Resolves with the exit code.
 */
export async function runWebhook(flags: WebhookFlags, options: RunWebhookOptions): Promise<number> {
  const { logger } = options;
  const config = await loadConfigFile(flags.configPath);
  const server = startWebhookServer({
    dumpRoot: config.corefileDir,
    certFile: flags.certFile,
    keyFile: flags.keyFile,
    port: flags.port,
    hostname: flags.hostname,
    // 0 turns the health port off here: a port picked at random is of no use to a probe.
    healthPort: flags.healthPort || undefined,
    logger,
  });
  logger.info("coredog webhook starting", {
    version: VERSION,
    dump_root: config.corefileDir,
    port: flags.port,
    health_port: flags.healthPort || "off",
    cert: flags.certFile,
    key: flags.keyFile,
  });
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
    await server.shutdown();
    return 1;
  }
  if ("addr" in first) {
    logger.info("webhook listening", {
      address: `${first.addr.hostname}:${first.addr.port}`,
      health: server.healthAddr ? `${server.healthAddr.hostname}:${server.healthAddr.port}` : "off",
    });
  }
  await drain(server, await signal, flags, logger);
  return 0;
}

async function drain(server: WebhookServer, signal: Deno.Signal, flags: WebhookFlags, logger: Logger): Promise<void> {
  // Readiness drops first so that the Service stops routing here while the port still answers.
  server.drain();
  logger.info("shutting down; finishing requests in flight", { signal, delay_seconds: flags.shutdownDelaySeconds });
  await new Promise((resolve) => setTimeout(resolve, flags.shutdownDelaySeconds * 1000));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), DRAIN_LIMIT_MS));
  const result = await Promise.race([server.shutdown().then(() => "done" as const), limit]);
  clearTimeout(timer);
  if (result === "timeout") logger.warn("requests still in flight after the drain limit; exiting anyway");
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
