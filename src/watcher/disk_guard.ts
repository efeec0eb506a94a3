/**
 * Keeps the node's disk healthy: applies `Watcher.MaxUse` and
 * `Watcher.KeepFree` (see `core/disk_policy.ts` for the rules) every few
 * seconds, deleting stored local copies first and, only when the node would
 * run out of space, cores not yet stored, each with an error log, a metric
 * and a message naming the pod that lost its core.
 *
 * @module
 */

import fs from "node:fs";
import { planDiskActions } from "../core/disk_policy.ts";
import { describeSize, resolveSize } from "../core/size_spec.ts";
import { humanBytes } from "../core/template.ts";
import { coreId, dropUnstored, type PipelineDeps } from "./pipeline.ts";
import { removeIfSame } from "./safe_file.ts";
import type { Scheduler } from "./scheduler.ts";

/** How often the guard looks, ms. */
const DISK_CHECK_MS = 2000;

/** Free and total bytes of the file system holding `path`. */
async function fileSystemSpace(path: string): Promise<{ freeBytes: number; totalBytes: number }> {
  const stats = await fs.promises.statfs(path);
  return { freeBytes: stats.bavail * stats.bsize, totalBytes: stats.blocks * stats.bsize };
}

/** Applies the disk limits to the cores the scheduler knows. */
export class DiskGuard {
  #scheduler: Scheduler;
  #deps: PipelineDeps;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<void> | undefined;
  #overMaxUse = false;
  /** False when both `MaxUse` and `KeepFree` are off: nothing to check. */
  #enabled: boolean;

  constructor(scheduler: Scheduler, deps: PipelineDeps) {
    this.#scheduler = scheduler;
    this.#deps = deps;
    const { maxUse, keepFree } = deps.config.watcher;
    this.#enabled = maxUse.kind !== "off" || keepFree.kind !== "off";
  }

  /** Checks every {@linkcode DISK_CHECK_MS} (and after each scan, through {@linkcode check}). */
  start(): void {
    if (!this.#enabled) return;
    this.#timer = setInterval(() => this.check(), DISK_CHECK_MS);
  }

  /** Stops checking and waits for a check in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One check (a check already running is joined). */
  check(): Promise<void> {
    if (!this.#enabled) return Promise.resolve();
    if (!this.#running) {
      this.#running = this.#check()
        .catch((error) => this.#deps.logger.error("disk guard failed", { error: String(error) }))
        .finally(() => this.#running = undefined);
    }
    return this.#running;
  }

  async #check(): Promise<void> {
    const { config, logger, metrics } = this.#deps;
    const space = await fileSystemSpace(config.corefileDir);
    const cores = this.#scheduler.localCores();
    const usedBytes = cores.reduce((sum, core) => sum + core.diskBytes, 0);
    const limits = {
      maxUseBytes: resolveSize(config.watcher.maxUse, space.totalBytes),
      keepFreeBytes: resolveSize(config.watcher.keepFree, space.totalBytes),
    };
    const plan = planDiskActions(cores, { usedBytes, freeBytes: space.freeBytes, limits });
    for (const core of plan.evict) {
      if (!this.#scheduler.claim(core.path)) continue;
      if (await removeIfSame(core.path, core)) {
        await this.#deps.ledger.forget(await coreId(core));
        metrics.evicted.inc();
        logger.warn("deleted the local copy of a stored core to free space", {
          path: core.path,
          bytes: core.diskBytes,
          max_use: describeSize(config.watcher.maxUse),
          keep_free: describeSize(config.watcher.keepFree),
        });
      }
    }
    for (const core of plan.drop) {
      if (!this.#scheduler.claim(core.path)) continue;
      await dropUnstored(core, {
        code: "disk-full",
        text: `the node's disk is nearly full (${humanBytes(space.freeBytes)} free, Watcher.KeepFree is ${
          describeSize(config.watcher.keepFree)
        })`,
      }, this.#deps);
    }
    if (plan.overMaxUse && !this.#overMaxUse) {
      logger.warn("CorefileDir over Watcher.MaxUse with cores not yet stored; keeping them while the node has room", {
        used_bytes: usedBytes,
        max_use: describeSize(config.watcher.maxUse),
      });
    }
    this.#overMaxUse = plan.overMaxUse;
  }
}
