/**
 * Entrypoint of the watcher role (the DaemonSet).
 *
 * Usage: `coredog-watcher [--config <file>] [--kubeconfig <file>]` (see
 * `--help` and `src/watcher/flags.ts`); the config file defaults to
 * `$COREDOG_CONFIG`, then `/etc/coredog/coredog.yaml`.
 * With `Watcher.Kubernetes: auto` the API is reached through
 * `--kubeconfig` (or `$COREDOG_KUBECONFIG`), else `$KUBECONFIG`, else the
 * pod's service account, else `~/.kube/config`; with none of them, not at all.
 *
 * @module
 */

import { ConfigError, type CoredogConfig } from "../core/config.ts";
import { loadConfigFile } from "../config_file.ts";
import { openKubeClient } from "../kube/connect.ts";
import { createLogger, type Logger } from "../log.ts";
import { nodeIdentity } from "../node_identity.ts";
import { createChannels } from "../notify/mod.ts";
import { createStorage } from "../storage/mod.ts";
import { VERSION } from "../version.ts";
import { serveHealth } from "../health_server.ts";
import { parseWatcherFlags, type WatcherFlags, watcherUsage } from "./flags.ts";
import { startWatcher } from "./watcher.ts";
import { createWatcherMetrics } from "./watcher_metrics.ts";

/**
 * How long a SIGTERM waits for uploads in progress before exiting, ms. The
 * chart's terminationGracePeriodSeconds is longer, so the kubelet's SIGKILL
 * does not cut the wait short.
 */
export const SHUTDOWN_GRACE_MS = 55_000;

/** Options of {@linkcode runWatcher}. */
export interface RunWatcherOptions {
  /** `--kubeconfig`: the kubeconfig file to use with `Watcher.Kubernetes: auto`. */
  kubeconfig?: string;
  /** How long a SIGTERM or SIGINT waits for uploads in progress, ms; {@linkcode SHUTDOWN_GRACE_MS} by default. */
  shutdownGraceMs?: number;
}

/**
 * Runs the watcher with `config` until SIGTERM or SIGINT, then waits for
 * uploads in progress, at most the shutdown grace. Resolves with the exit code.
 */
export async function runWatcher(
  config: CoredogConfig,
  logger: Logger,
  options: RunWatcherOptions = {},
): Promise<number> {
  const env = (name: string) => Deno.env.get(name);
  const storage = createStorage(config.storage);
  const channels = createChannels(config.channels);
  const kube = config.watcher.kubernetes === "auto"
    ? await openKubeClient({ kubeconfig: options.kubeconfig, env })
    : undefined;
  const node = nodeIdentity(env);
  logger.info("coredog watcher starting", {
    version: VERSION,
    corefile_dir: config.corefileDir,
    storage: storage.describe(),
    delete_local: config.storage.deleteLocalCorefile,
    compression: config.storage.compression,
    channels: channels.map((c) => c.notifier.name).join(",") || "none",
    kubernetes: kube ? `${kube.connection.server} via ${kube.connection.source}` : "off",
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
        notReadyReason: "the first scan has not finished",
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
    kube,
  });
  isReady = () => watcher.ready();
  const stopSignal = listenForStop();
  const signal = await stopSignal.received;
  logger.info("shutting down; finishing uploads in progress", { signal, pending: watcher.pending() });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS;
  const timeout = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), grace));
  const result = await Promise.race([watcher.stop().then(() => "stopped" as const), timeout]);
  clearTimeout(timer);
  if (result === "timeout") logger.warn("shutdown grace period over; unfinished uploads resume after restart");
  await health?.shutdown();
  logger.info("coredog watcher stopped");
  stopSignal.close();
  return 0;
}

/**
 * The first SIGTERM or SIGINT. Later ones are ignored until `close`, so that
 * a second Ctrl-C (which `deno task` also forwards) does not cut the grace short.
 */
function listenForStop(): { received: Promise<Deno.Signal>; close(): void } {
  let resolve: (signal: Deno.Signal) => void = () => {};
  const received = new Promise<Deno.Signal>((r) => resolve = r);
  const onTerm = () => resolve("SIGTERM");
  const onInt = () => resolve("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  return {
    received,
    close() {
      Deno.removeSignalListener("SIGTERM", onTerm);
      Deno.removeSignalListener("SIGINT", onInt);
    },
  };
}

if (import.meta.main) {
  const logger = createLogger({ fields: { component: "watcher" } });
  let flags: WatcherFlags;
  try {
    flags = parseWatcherFlags(Deno.args, (name) => Deno.env.get(name));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${watcherUsage()}`);
    Deno.exit(2);
  }
  if (flags.help) {
    console.log(watcherUsage());
    Deno.exit(0);
  }
  try {
    const config = await loadConfigFile(flags.configPath);
    // Exit at once: an upload cut off by the grace period is still pending and would keep the process alive.
    Deno.exit(await runWatcher(config, logger, { kubeconfig: flags.kubeconfig || undefined }));
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error("invalid configuration", { file: flags.configPath });
      console.error(error.message);
    } else {
      logger.error("watcher failed", { error: (error as Error).message });
    }
    Deno.exit(1);
  }
}
