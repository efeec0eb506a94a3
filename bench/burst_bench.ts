/**
 * Benchmark 3, burst: many small cores written at once, one per pod, as
 * when a bad rollout crashes every replica on a node. Measures whether
 * every core is uploaded (stored objects counted in S3, notifications
 * counted at the receiver), how long the watcher takes to drain the burst,
 * and its peak RSS meanwhile. File events can be dropped under such a
 * burst (see the field facts); a core found by a scan instead waits
 * `QuietSeconds` before it is processed, which the capture times show.
 *
 * @module
 */

import { join } from "node:path";
import { WATCHER_KEYS } from "../src/core/config_schema.ts";
import { cpuSeconds, memoryStats, resetPeakRss, watchCpu } from "./support/proc_stats.ts";
import { countObjects } from "./support/s3_process.ts";
import { percentile } from "./support/stats.ts";
import { writeSyntheticCore } from "./support/synthetic_core.ts";
import { startWatcherRig } from "./support/watcher_rig.ts";

/** The default `Watcher.QuietSeconds`, in ms: the rig leaves it unset, so the watcher runs with it. */
const QUIET_MS = Number(WATCHER_KEYS.QuietSeconds.default) * 1000;

/** Options of {@linkcode runBurstBench}. */
export interface BurstBenchOptions {
  workDir: string;
  cores: number;
  coreBytes: number;
  /** How long to wait for the drain before giving up, ms. */
  timeoutMs: number;
  log: (line: string) => void;
}

/** What the burst cost. */
export interface BurstResult {
  cores: number;
  coreBytes: number;
  /** ms from the first write to the last close. */
  writeMs: number;
  /** Cores stored in S3 (`.core.zst` objects) and notifications received when the drain ended. */
  storedObjects: number;
  notifications: number;
  /** ms from the last close to the last verified upload, and to the last notification. */
  drainToStoredMs: number;
  drainToNotifiedMs: number;
  /** Close to capture over all cores, ms. */
  captureP50Ms: number;
  captureP99Ms: number;
  captureMaxMs: number;
  /**
   * Cores whose processing started `QuietSeconds` (10 s by default) or more after their close. A core
   * whose close event was lost is found by a scan and then waits the quiet time, so this bounds the lost
   * events from above (a long queue also delays the capture line, which is logged when processing starts).
   */
  lateCaptures: number;
  peakRssBytes: number;
  watcherCpuSeconds: number;
  foreignCores: number;
  /** Cores per second over the drain, first write to last notification. */
  coresPerSecond: number;
  /** True when every core was stored and notified within the timeout. */
  complete: boolean;
}

/** Writes `options.cores` cores as fast as possible and waits until all are stored and notified. */
export async function runBurstBench(options: BurstBenchOptions): Promise<BurstResult> {
  const pods = Array.from({ length: options.cores }, (_, i) => `burst/pod-${String(i).padStart(4, "0")}/app`);
  const rig = await startWatcherRig(options.workDir, { podDirs: pods });
  const { watcher, receiver, s3 } = rig;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    resetPeakRss(watcher.pid);
    const cpu0 = cpuSeconds(watcher.pid);
    const watch = watchCpu([watcher.pid, s3.pid]);
    const paths = pods.map((pod, i) => join(rig.corefileDir, pod, `core.server.${3000 + i}`));
    const closedAt = new Map<string, number>();
    const firstWrite = Date.now();
    // Several writers at once, as several processes crash at once.
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < paths.length) {
        const i = next++;
        const core = await writeSyntheticCore(paths[i], {
          sizeBytes: options.coreBytes,
          dataFraction: 0.125,
          seed: 3000 + i,
          pid: 3000 + i,
        });
        closedAt.set(paths[i], core.closedAt);
      }
    }));
    const lastClose = Math.max(...closedAt.values());
    let complete = true;
    try {
      await receiver.waitForCount(options.cores, options.timeoutMs);
      await watcher.waitUntil("every core stored", () => paths.every((p) => watcher.stored.has(p)), 30_000);
    } catch (error) {
      complete = false;
      options.log(`  burst did not drain: ${(error as Error).message.split("\n")[0]}`);
    }
    const cpu = watch.stop();
    const peakRssBytes = memoryStats(watcher.pid).peakRssBytes;
    const watcherCpuSeconds = cpuSeconds(watcher.pid) - cpu0;
    const storedObjects = await countObjects(s3.endpoint, "corefiles/burst/", ".core.zst");
    const storedTimes = paths.map((p) => watcher.stored.get(p)).filter((t): t is number => t !== undefined);
    const notifiedTimes = receiver.deliveries.map((d) => d.at);
    const captures = paths
      .filter((p) => watcher.captured.has(p))
      .map((p) => watcher.captured.get(p)! - closedAt.get(p)!);
    const lastNotified = Math.max(...notifiedTimes);
    return {
      cores: options.cores,
      coreBytes: options.coreBytes,
      writeMs: lastClose - firstWrite,
      storedObjects,
      notifications: receiver.deliveries.length,
      drainToStoredMs: Math.max(...storedTimes) - lastClose,
      drainToNotifiedMs: lastNotified - lastClose,
      captureP50Ms: percentile(captures, 50),
      captureP99Ms: percentile(captures, 99),
      captureMaxMs: Math.max(...captures),
      lateCaptures: captures.filter((ms) => ms >= QUIET_MS).length,
      peakRssBytes,
      watcherCpuSeconds,
      foreignCores: cpu.foreignCores,
      coresPerSecond: receiver.deliveries.length / ((lastNotified - firstWrite) / 1000),
      complete: complete && storedObjects === options.cores,
    };
  } finally {
    await rig.stop();
  }
}
