/**
 * Benchmark 2, detection latency: small cores written one at a time, each
 * in its own pod's directory, timed from the file's close to the watcher's
 * "capture a file" log line and to the notification's arrival. The
 * default settle time (`Watcher.SettleMilliseconds`) is included:
 * it is part of how fast a crash is reported.
 *
 * @module
 */

import { join } from "node:path";
import { WATCHER_KEYS } from "../src/core/config_schema.ts";
import { cpuSeconds, memoryStats } from "./support/proc_stats.ts";
import { percentile } from "./support/stats.ts";
import { writeSyntheticCore } from "./support/synthetic_core.ts";
import { startWatcherRig } from "./support/watcher_rig.ts";

/** The default `Watcher.SettleMilliseconds`: the rig leaves it unset, so the watcher runs with it. */
const SETTLE_MS = Number(WATCHER_KEYS.SettleMilliseconds.default);

/** Options of {@linkcode runLatencyBench}. */
export interface LatencyBenchOptions {
  workDir: string;
  cores: number;
  /** Size of each core. */
  coreBytes: number;
  log: (line: string) => void;
}

/** Latencies in ms. */
export interface LatencyResult {
  cores: number;
  coreBytes: number;
  settleMs: number;
  toCapture: { p50: number; p99: number; max: number };
  toStored: { p50: number; p99: number; max: number };
  toNotified: { p50: number; p99: number; max: number };
  /** Every sample, close to notification, in order. */
  notifiedMs: number[];
  watcherCpuSeconds: number;
  peakRssBytes: number;
}

/** Writes `options.cores` cores, waiting for each one's notification before the next. */
export async function runLatencyBench(options: LatencyBenchOptions): Promise<LatencyResult> {
  const pods = Array.from({ length: options.cores }, (_, i) => `latency/pod-${String(i).padStart(4, "0")}/app`);
  const rig = await startWatcherRig(options.workDir, { podDirs: pods });
  const { watcher, receiver } = rig;
  try {
    const cpu0 = cpuSeconds(watcher.pid);
    const capture: number[] = [];
    const stored: number[] = [];
    const notified: number[] = [];
    for (let i = 0; i < options.cores; i++) {
      // A random pause, so that the cores do not fall in step with the watcher's timers.
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 100));
      const path = join(rig.corefileDir, pods[i], `core.server.${2000 + i}`);
      const core = await writeSyntheticCore(path, {
        sizeBytes: options.coreBytes,
        dataFraction: 0.125,
        seed: 2000 + i,
        pid: 2000 + i,
      });
      const delivery = await receiver.waitFor(path, 60_000);
      await watcher.waitUntil(`stored ${path}`, () => watcher.stored.has(path), 60_000);
      capture.push(watcher.captured.get(path)! - core.closedAt);
      stored.push(watcher.stored.get(path)! - core.closedAt);
      notified.push(delivery.at - core.closedAt);
      if ((i + 1) % 50 === 0) options.log(`  ${i + 1}/${options.cores} cores`);
    }
    const summary = (values: number[]) => ({
      p50: percentile(values, 50),
      p99: percentile(values, 99),
      max: Math.max(...values),
    });
    return {
      cores: options.cores,
      coreBytes: options.coreBytes,
      settleMs: SETTLE_MS,
      toCapture: summary(capture),
      toStored: summary(stored),
      toNotified: summary(notified),
      notifiedMs: notified,
      watcherCpuSeconds: cpuSeconds(watcher.pid) - cpu0,
      peakRssBytes: memoryStats(watcher.pid).peakRssBytes,
    };
  } finally {
    await rig.stop();
  }
}
