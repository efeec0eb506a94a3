/**
 * Entrypoint of the watcher role (the DaemonSet).
 *
 * Usage: `coredog-watcher [--config <file>]`; the file defaults to
 * `$COREDOG_CONFIG`, then `/etc/coredog/coredog.yaml`.
 *
 * @module
 */

import { ConfigError, type CoredogConfig } from "../core/config.ts";
import { DEFAULT_CONFIG_PATH, loadConfigFile } from "../config_file.ts";
import { inClusterOptions, KubeClient } from "../kube/client.ts";
import { createLogger, type Logger } from "../log.ts";
import { nodeIdentity } from "../node_identity.ts";
import { createChannels } from "../notify/mod.ts";
import { createStorage } from "../storage/mod.ts";
import { VERSION } from "../version.ts";
import { serveHealth } from "./health_server.ts";
import { startWatcher } from "./watcher.ts";
import { createWatcherMetrics } from "./watcher_metrics.ts";

/** How long a SIGTERM waits for uploads in progress before exiting, ms. */
const SHUTDOWN_GRACE_MS = 55_000;

/** Runs the watcher with `config` until SIGTERM or SIGINT. */
export async function runWatcher(config: CoredogConfig, logger: Logger): Promise<void> {
  const env = (name: string) => Deno.env.get(name);
  const storage = createStorage(config.storage);
  const channels = createChannels(config.channels);
  const kubeOptions = config.watcher.kubernetes === "auto" ? inClusterOptions(env) : undefined;
  const node = nodeIdentity(env);
  logger.info("coredog watcher starting", {
    version: VERSION,
    root: config.corefileDir,
    storage: storage.describe(),
    delete_local: config.storage.deleteLocalCorefile,
    compression: config.storage.compression,
    channels: channels.map((c) => c.notifier.name).join(",") || "none",
    kubernetes: kubeOptions ? kubeOptions.apiUrl : "off",
    node: node.name,
  });
  if (channels.length === 0) logger.warn("no NoticeChannel configured; crashes are only logged");
  // The probes answer from the start: alive at once, ready after the first scan.
  const metrics = createWatcherMetrics();
  let isReady = (): boolean => false;
  let health: Deno.HttpServer | undefined;
  if (config.watcher.healthPort > 0) {
    try {
      health = serveHealth({
        port: config.watcher.healthPort,
        registry: metrics.registry,
        healthy: () => true,
        ready: () => isReady(),
      });
    } catch (error) {
      // Cores matter more than probes: keep capturing without the endpoints.
      logger.error("cannot serve /healthz, /readyz and /metrics; capturing continues", {
        port: config.watcher.healthPort,
        error: (error as Error).message,
      });
    }
  }
  const watcher = await startWatcher({
    config,
    storage,
    channels,
    logger,
    node,
    metrics,
    kube: kubeOptions ? new KubeClient(kubeOptions) : undefined,
  });
  isReady = () => watcher.ready();
  await new Promise<void>((resolve) => {
    const stop = (signal: Deno.Signal) => {
      logger.info("shutting down; finishing uploads in progress", { signal, pending: watcher.pending() });
      resolve();
    };
    Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
    Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  });
  const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), SHUTDOWN_GRACE_MS));
  const result = await Promise.race([watcher.stop().then(() => "stopped" as const), timeout]);
  if (result === "timeout") logger.warn("shutdown grace period over; unfinished uploads resume after restart");
  await health?.shutdown();
  logger.info("coredog watcher stopped");
  Deno.exit(0);
}

/** Parses `--config <file>`. */
function configPathFromArgs(args: string[], env: (name: string) => string | undefined): string {
  const at = args.indexOf("--config");
  if (at !== -1 && args[at + 1]) return args[at + 1];
  const inline = args.find((a) => a.startsWith("--config="));
  if (inline) return inline.slice("--config=".length);
  return env("COREDOG_CONFIG") || DEFAULT_CONFIG_PATH;
}

if (import.meta.main) {
  const logger = createLogger({ fields: { component: "watcher" } });
  const path = configPathFromArgs(Deno.args, (name) => Deno.env.get(name));
  try {
    const config = await loadConfigFile(path);
    await runWatcher(config, logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error("invalid configuration", { file: path });
      console.error(error.message);
    } else {
      logger.error("watcher failed", { error: (error as Error).message });
    }
    Deno.exit(1);
  }
}
