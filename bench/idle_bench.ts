/**
 * Benchmark 5, idle cost: the watcher with many pod directories under its
 * CorefileDir, and the webhook, each left alone for a while. Measures RSS
 * and CPU over the window and the cost of one periodic rescan, found as
 * the burst of CPU in the per-interval samples (with the default
 * `Watcher.RescanSeconds` of 60, a 60 s window holds exactly one rescan).
 *
 * @module
 */

import { join } from "node:path";
import { freePort } from "../tests/support/s3_server.ts";
import { coredogTarget, webhookConfigYaml } from "./webhook_bench.ts";
import { defaultNamespace } from "./support/net_namespace.ts";
import { cpuSeconds, memoryStats } from "./support/proc_stats.ts";
import { writeTlsFiles } from "./support/tls_files.ts";
import { startWatcherRig } from "./support/watcher_rig.ts";

/** Options of {@linkcode runIdleBench}. */
export interface IdleBenchOptions {
  workDir: string;
  /** Pod directories (each with one container directory) under CorefileDir. */
  pods: number;
  windowSeconds: number;
  /** `Watcher.RescanSeconds`; the default 60 unless a short window needs a shorter one. */
  rescanSeconds: number;
  log: (line: string) => void;
}

/** One idle process. */
export interface IdleProcessResult {
  cpuSeconds: number;
  /** CPU over the window as a share of one core, percent. */
  cpuPercentOfCore: number;
  rssBytes: number;
  peakRssBytes: number;
}

/** Result of {@linkcode runIdleBench}. */
export interface IdleResult {
  pods: number;
  windowSeconds: number;
  rescanSeconds: number;
  watcher: IdleProcessResult & {
    /** Wall ms from spawn to the end of the first full scan. */
    startupMs: number;
    /** CPU seconds from spawn to the end of the first full scan. */
    startupCpuSeconds: number;
    /** inotify watches the watcher holds. */
    inotifyWatches: number;
    /** CPU seconds and wall seconds of the largest burst in the window: the periodic rescan. */
    rescanCpuSeconds: number;
    rescanWallSeconds: number;
    /** CPU of the window without the rescan burst, percent of a core. */
    baselineCpuPercentOfCore: number;
  };
  webhook: IdleProcessResult;
}

const SAMPLE_MS = 250;

/** Starts the watcher on `options.pods` pod directories and a webhook, and watches both idle. */
export async function runIdleBench(options: IdleBenchOptions): Promise<IdleResult> {
  const { workDir, log } = options;
  const pods: string[] = [];
  const perNamespace = 1000;
  for (let i = 0; i < options.pods; i++) {
    const ns = `ns-${String(Math.floor(i / perNamespace)).padStart(2, "0")}`;
    pods.push(`${ns}/pod-${String(i % perNamespace).padStart(4, "0")}/app`);
  }
  log(`  creating ${options.pods} pod directories`);
  const rig = await startWatcherRig(workDir, {
    podDirs: pods,
    watcherYaml: [`RescanSeconds: ${options.rescanSeconds}`],
  });
  const tls = await writeTlsFiles(join(workDir, "tls"));
  const config = join(workDir, "webhook.yaml");
  await Deno.writeTextFile(config, webhookConfigYaml(workDir));
  const port = freePort();
  const webhook = await coredogTarget(config, {}).start(port, tls, {
    logFile: join(workDir, "idle-webhook.log"),
    ns: defaultNamespace(),
  });
  try {
    const startupCpuSeconds = cpuSeconds(rig.watcher.pid);
    log(
      `  watcher ready after ${rig.startupMs} ms (${
        startupCpuSeconds.toFixed(2)
      } CPU s); idle for ${options.windowSeconds} s`,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const pids = { watcher: rig.watcher.pid, webhook: webhook.pid };
    const cpu0 = { watcher: cpuSeconds(pids.watcher), webhook: cpuSeconds(pids.webhook) };
    const samples: number[] = [];
    let last = cpu0.watcher;
    const end = Date.now() + options.windowSeconds * 1000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      const now = cpuSeconds(pids.watcher);
      samples.push(now - last);
      last = now;
    }
    const idle = (pid: number, start: number): IdleProcessResult => {
      const used = cpuSeconds(pid) - start;
      const memory = memoryStats(pid);
      return {
        cpuSeconds: used,
        cpuPercentOfCore: (used / options.windowSeconds) * 100,
        rssBytes: memory.rssBytes,
        peakRssBytes: memory.peakRssBytes,
      };
    };
    const watcher = idle(pids.watcher, cpu0.watcher);
    const burst = largestBurst(samples);
    const rest = watcher.cpuSeconds - burst.cpuSeconds;
    const restSeconds = options.windowSeconds - burst.wallSeconds;
    return {
      pods: options.pods,
      windowSeconds: options.windowSeconds,
      rescanSeconds: options.rescanSeconds,
      watcher: {
        ...watcher,
        startupMs: rig.startupMs,
        startupCpuSeconds,
        inotifyWatches: await inotifyWatches(pids.watcher),
        rescanCpuSeconds: burst.cpuSeconds,
        rescanWallSeconds: burst.wallSeconds,
        baselineCpuPercentOfCore: (rest / Math.max(restSeconds, 1)) * 100,
      },
      webhook: idle(pids.webhook, cpu0.webhook),
    };
  } finally {
    await webhook.stop();
    await rig.stop();
  }
}

/**
 * The contiguous run of samples around the busiest one in which the
 * process used at least 10% of a core: a rescan walking the tree.
 */
function largestBurst(samples: number[]): { cpuSeconds: number; wallSeconds: number } {
  if (samples.length === 0) return { cpuSeconds: 0, wallSeconds: 0 };
  const busy = 0.1 * (SAMPLE_MS / 1000);
  let peak = 0;
  samples.forEach((v, i) => {
    if (v > samples[peak]) peak = i;
  });
  if (samples[peak] < busy) return { cpuSeconds: 0, wallSeconds: 0 };
  let from = peak;
  let to = peak;
  while (from > 0 && samples[from - 1] >= busy) from--;
  while (to < samples.length - 1 && samples[to + 1] >= busy) to++;
  const cpu = samples.slice(from, to + 1).reduce((sum, v) => sum + v, 0);
  return { cpuSeconds: cpu, wallSeconds: ((to - from + 1) * SAMPLE_MS) / 1000 };
}

/** Counts the inotify watches of `pid` from its fdinfo entries. */
async function inotifyWatches(pid: number): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/fdinfo/${entry.name}`).catch(() => "");
    count += text.split("\n").filter((line) => line.startsWith("inotify wd:")).length;
  }
  return count;
}
