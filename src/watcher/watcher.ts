/**
 * The watcher role put together: discovery feeds the scheduler, the
 * scheduler runs the pipeline, the pipeline hands records to the
 * notifiers.
 *
 * @module
 */

import { lstat } from "node:fs/promises";
import type { CoredogConfig } from "../core/config.ts";
import type { KubeClient } from "../kube/client.ts";
import type { Logger } from "../log.ts";
import { type Channel, createDispatcher, type Dispatcher } from "../notify/mod.ts";
import type { Storage } from "../storage/mod.ts";
import { Discovery } from "./discovery.ts";
import { Ledger } from "./ledger.ts";
import { NotifyTracker } from "./notify_tracker.ts";
import { type PipelineDeps, processCore } from "./pipeline.ts";
import { Scheduler } from "./scheduler.ts";
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
  /** Rescans the dump root now. */
  scan(): Promise<void>;
  /** Stops discovery, finishes uploads in progress, sends queued messages. */
  stop(): Promise<void>;
}

/** Starts the watcher on `options.config.corefileDir`. */
export async function startWatcher(options: WatcherOptions): Promise<Watcher> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createWatcherMetrics();
  const ledger = new Ledger(config.watcher.stateDir);
  await ledger.init();
  const dispatcher = createDispatcher(options.channels, {
    template: config.messageTemplate,
    logger,
    metrics: metrics.notifications,
  });
  const notifications = new NotifyTracker(dispatcher, { ledger, logger });
  const deps: PipelineDeps = {
    config,
    storage: options.storage,
    ledger,
    notifications,
    kube: options.kube,
    logger,
    metrics,
    node: options.node,
  };
  await recoverLedger(ledger, notifications, logger);
  const scheduler = new Scheduler({
    readiness: config.watcher,
    concurrency: config.watcher.uploadConcurrency,
    retryMaxMs: config.watcher.retryMaxMs,
    process: (file) => processCore(file, deps),
    logger,
    metrics,
  });
  let ready = false;
  const discovery = new Discovery({
    root: config.corefileDir,
    exclude: [config.watcher.stateDir],
    rescanMs: config.watcher.rescanMs,
    dirMode: config.watcher.dirMode,
    logger,
    onFile: (path, stat, closed) => scheduler.observe(path, stat, closed),
    onGone: (path) => scheduler.forget(path),
    onScanComplete: () => {
      if (!ready) logger.info("initial scan complete; watching", { root: config.corefileDir });
      ready = true;
    },
  });
  await discovery.start();
  return {
    metrics,
    dispatcher,
    ready: () => ready,
    pending: () => scheduler.pending(),
    scan: () => discovery.scan(),
    async stop() {
      await discovery.stop();
      await scheduler.stop();
      await dispatcher.drain();
      await notifications.settled();
      options.kube?.close();
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
    let present = false;
    try {
      const stat = await lstat(entry.path);
      present = stat.dev === entry.dev && stat.ino === entry.ino;
    } catch {
      present = false;
    }
    if (!entry.notified) {
      logger.info("sending the notification interrupted by a restart", { key: entry.key });
      notifications.publish(entry, !present);
    } else if (!present) {
      await ledger.forget(entry.id);
    }
  }
}
