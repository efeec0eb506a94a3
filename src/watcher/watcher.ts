/**
 * The watcher role put together: the root lock keeps it alone on its dump
 * root, discovery feeds the scheduler, the scheduler runs the pipeline, the
 * pipeline hands records to the notifiers; the disk guard and the directory
 * sweep keep the node tidy.
 *
 * @module
 */

import type { CoredogConfig } from "../core/config.ts";
import { ContainerCap } from "../core/container_cap.ts";
import type { KubeClient } from "../kube/client.ts";
import { PodCache } from "../kube/pod_cache.ts";
import type { Logger } from "../log.ts";
import { type Channel, createDispatcher, type Dispatcher } from "../notify/mod.ts";
import { CleanupUnsupportedError, type Storage } from "../storage/mod.ts";
import { DirHygiene } from "./dir_hygiene.ts";
import { Discovery } from "./discovery.ts";
import { DiskGuard } from "./disk_guard.ts";
import { DebuginfodClient } from "./debuginfod_client.ts";
import { Ledger } from "./ledger.ts";
import { NotifyTracker } from "./notify_tracker.ts";
import { type PipelineDeps, processCore } from "./pipeline.ts";
import { acquireRootLock } from "./root_lock.ts";
import { isStillThere } from "./safe_file.ts";
import { Scheduler } from "./scheduler.ts";
import { signatureOptions, signatureRegistryFor } from "./signature_registry.ts";
import { createWatcherMetrics, type WatcherMetrics } from "./watcher_metrics.ts";

/** What the watcher is built from. */
export interface WatcherOptions {
  config: CoredogConfig;
  storage: Storage;
  channels: Channel[];
  logger: Logger;
  kube?: KubeClient;
  node: { name: string; ip: string };
  /** Metrics to fill; a fresh set by default. */
  metrics?: WatcherMetrics;
}

/** A running watcher. */
export interface Watcher {
  metrics: WatcherMetrics;
  dispatcher: Dispatcher;
  /** True once the first full scan finished. */
  ready(): boolean;
  /** Files found but not yet stored. */
  pending(): number;
  /** Rescans CorefileDir now. */
  scan(): Promise<void>;
  /** Stops discovery, finishes uploads in progress, sends queued messages. */
  stop(): Promise<void>;
}

/** Starts the watcher on `options.config.corefileDir`. */
export async function startWatcher(options: WatcherOptions): Promise<Watcher> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createWatcherMetrics();
  const lock = await acquireRootLock(config.watcher.stateDir, {
    logger,
    holder: `node ${options.node.name}, pid ${Deno.pid}, since ${new Date().toISOString()}`,
  });
  const ledger = new Ledger(config.watcher.stateDir);
  await ledger.init();
  const dispatcher = createDispatcher(options.channels, {
    template: config.messageTemplate,
    logger,
    metrics: metrics.notifications,
    digestSource: signatureRegistryFor(options.storage, signatureOptions(config)),
  });
  const notifications = new NotifyTracker(dispatcher, { ledger, logger });
  // Started before the first scan, so that cores found then are attributed from the cache once it syncs.
  const pods = options.kube
    ? new PodCache(options.kube, {
      nodeName: options.node.name,
      tombstoneMs: config.watcher.podTombstoneMs,
      logger,
      onLookup: (source) => metrics.podLookups.inc({ source }),
    })
    : undefined;
  pods?.start();
  const deps: PipelineDeps = {
    config,
    storage: options.storage,
    ledger,
    notifications,
    cap: new ContainerCap(config.watcher.maxCoresPerContainerPerHour),
    kube: options.kube,
    pods,
    symbols: config.watcher.debuginfodUrls.length > 0
      ? new DebuginfodClient(config.watcher.debuginfodUrls, { logger })
      : undefined,
    logger,
    metrics,
    node: options.node,
  };
  await recoverLedger(ledger, notifications, logger);
  await abortInterruptedUploads(ledger, options.storage, logger);
  const scheduler = new Scheduler({
    readiness: config.watcher,
    concurrency: config.watcher.uploadConcurrency,
    retryMaxMs: config.watcher.retryMaxMs,
    process: (file) => processCore(file, deps),
    logger,
    metrics,
  });
  const guard = new DiskGuard(scheduler, deps);
  const hygiene = options.kube && config.watcher.podDirGraceMs > 0
    ? new DirHygiene({
      corefileDir: config.corefileDir,
      kube: options.kube,
      graceMs: config.watcher.podDirGraceMs,
      nodeName: options.node.name,
      logger,
    })
    : undefined;
  let sweeping: Promise<unknown> | undefined;
  let lastSweep = 0;
  let ready = false;
  const discovery = new Discovery({
    corefileDir: config.corefileDir,
    exclude: [config.watcher.stateDir],
    rescanMs: config.watcher.rescanMs,
    dirMode: config.watcher.dirMode,
    logger,
    onFile: (path, stat, closed) => scheduler.observe(path, stat, closed),
    onGone: (path) => scheduler.forget(path),
    onRefused: (path, reason) => scheduler.refuse(path, reason),
    onScanComplete: () => {
      if (!ready) logger.info("initial scan complete; watching", { corefile_dir: config.corefileDir });
      ready = true;
      guard.check();
      deps.cap.prune(Date.now());
      // The directory sweep asks the API about each old empty pod directory: not more than every ten minutes.
      if (hygiene && !sweeping && Date.now() - lastSweep > 10 * 60_000) {
        lastSweep = Date.now();
        sweeping = hygiene.sweep().finally(() => sweeping = undefined);
      }
    },
  });
  await discovery.start();
  guard.start();
  return {
    metrics,
    dispatcher,
    ready: () => ready,
    pending: () => scheduler.pending(),
    scan: () => discovery.scan(),
    async stop() {
      await discovery.stop();
      await guard.stop();
      await scheduler.stop();
      await sweeping;
      await dispatcher.drain();
      await notifications.settled();
      await pods?.stop();
      lock.release();
    },
  };
}

/**
 * After a restart: records stored before it whose notification was not
 * settled are sent again (a duplicate message is better than a missing
 * one), and entries whose local file is gone are dropped.
 */
async function recoverLedger(ledger: Ledger, notifications: NotifyTracker, logger: Logger): Promise<void> {
  for (const entry of await ledger.list()) {
    const present = await isStillThere(entry.path, entry);
    if (!entry.notified) {
      logger.info("sending the notification interrupted by a restart", { key: entry.key });
      notifications.publish(entry, !present);
    } else if (!present) {
      await ledger.forget(entry.id);
    }
  }
}

/**
 * Uploads that a kill interrupted leave incomplete multipart uploads in the
 * bucket, billed until aborted. The core itself is uploaded again from the
 * file, which stayed on the node.
 */
async function abortInterruptedUploads(ledger: Ledger, storage: Storage, logger: Logger): Promise<void> {
  for (const mark of await ledger.listUploading()) {
    try {
      const aborted = await storage.abortIncompleteUploads(mark.key);
      logger.info("cleaned up an upload interrupted by a restart", { key: mark.key, aborted });
    } catch (error) {
      if (error instanceof CleanupUnsupportedError) {
        logger.warn(
          "cannot clean up an upload interrupted by a restart; add a bucket lifecycle rule that aborts incomplete multipart uploads",
          { key: mark.key, error: error.message },
        );
      } else {
        logger.warn("cleaning up an interrupted upload failed; trying again at the next start", {
          key: mark.key,
          error: (error as Error).message,
        });
        await ledger.keepForCleanup(mark.id, mark.key);
        continue;
      }
    }
    await ledger.clearCleanup(mark.id);
  }
}
