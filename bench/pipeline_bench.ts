/**
 * Benchmark 1, the pipeline: synthetic cores of several sizes written
 * under CorefileDir of a watcher process, timed from the file's close to
 * the verified upload ("stored core" in the log) and to the notification's
 * arrival, against the standard-tools baseline run on the same bytes to
 * the same S3 server in the same run.
 *
 * @module
 */

import { join } from "node:path";
import { type BaselineResult, runBaseline } from "./support/baseline_upload.ts";
import { cpuSeconds, type CpuShare, loadAverage, memoryStats, resetPeakRss, watchCpu } from "./support/proc_stats.ts";
import { median } from "./support/stats.ts";
import { writeSyntheticCore } from "./support/synthetic_core.ts";
import { startWatcherRig } from "./support/watcher_rig.ts";

/** One core size to measure. */
export interface PipelineCase {
  label: string;
  sizeBytes: number;
  /** Fraction of anonymous pages holding data; the rest are holes. */
  dataFraction: number;
  repeats: number;
}

/** One measured core, CoreDog and baseline. */
export interface PipelineRun {
  sizeBytes: number;
  dataBytes: number;
  /** ms from close to the "capture a file" log line (detection and settle). */
  toCaptureMs: number;
  /** ms from close to the verified upload. */
  toStoredMs: number;
  /** ms from close to the notification's arrival. */
  toNotifiedMs: number;
  storedBytes: number;
  /** The watcher's VmHWM during this core (reset just before it was written). */
  peakRssBytes: number;
  /** The watcher's CPU seconds from the first write to the notification. */
  watcherCpuSeconds: number;
  /** The S3 server's CPU seconds over the same span. */
  s3CpuSeconds: number;
  cpu: CpuShare;
  baseline: BaselineResult & { s3CpuSeconds: number; cpu: CpuShare };
  baselineHash: BaselineResult;
  load: number;
}

/** Medians over the repeats of one case. */
export interface PipelineCaseResult extends PipelineCase {
  runs: PipelineRun[];
  /** MiB/s of raw core, close to verified upload. */
  coredogMiBps: number;
  /** MiB/s of raw core, close to notification. */
  coredogNotifiedMiBps: number;
  /** MiB/s from "capture a file" to verified upload: the upload alone, without detection and settle. */
  coredogUploadMiBps: number;
  baselineMiBps: number;
  baselineHashMiBps: number;
  /** CoreDog (close to verified upload) / baseline. */
  ratio: number;
  /** Upload alone / baseline. */
  uploadRatio: number;
  /** Largest watcher VmHWM over the repeats. */
  peakRssBytes: number;
}

/** Result of {@linkcode runPipelineBench}. */
export interface PipelineResult {
  cases: PipelineCaseResult[];
  /** The watcher's RSS when idle before the first core. */
  idleRssBytes: number;
}

/** Options of {@linkcode runPipelineBench}. */
export interface PipelineBenchOptions {
  workDir: string;
  cases: PipelineCase[];
  log: (line: string) => void;
}

/** Runs every case against one watcher, one S3 server and one receiver. */
export async function runPipelineBench(options: PipelineBenchOptions): Promise<PipelineResult> {
  const { workDir, log } = options;
  const staging = join(workDir, "baseline");
  await Deno.mkdir(staging, { recursive: true });
  const rig = await startWatcherRig(workDir, { podDirs: options.cases.map(podDir) });
  const { corefileDir, s3, receiver, watcher } = rig;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idleRssBytes = memoryStats(watcher.pid).rssBytes;
    const cases: PipelineCaseResult[] = [];
    let pid = 1000;
    for (const c of options.cases) {
      const runs: PipelineRun[] = [];
      for (let i = 0; i < c.repeats; i++) {
        pid++;
        const coreOptions = { sizeBytes: c.sizeBytes, dataFraction: c.dataFraction, seed: pid, pid };
        const timeoutMs = 120_000 + c.sizeBytes / (10 * 1024 * 1024) * 1000;
        // Alternate who goes first, so that writeback of the other's file hits both alike.
        const baselineFirst = i % 2 === 1;
        let baselines: { plain: BaselineResult & { s3CpuSeconds: number; cpu: CpuShare }; hash: BaselineResult };
        if (baselineFirst) baselines = await measureBaseline(c, coreOptions, staging, s3);

        const path = join(corefileDir, podDir(c), `core.server.${pid}`);
        const load = loadAverage();
        resetPeakRss(watcher.pid);
        const cpu0 = cpuSeconds(watcher.pid);
        const s30 = cpuSeconds(s3.pid);
        const watch = watchCpu([watcher.pid, s3.pid]);
        const core = await writeSyntheticCore(path, coreOptions);
        const delivery = await receiver.waitFor(path, timeoutMs);
        await watcher.waitUntil(`stored ${path}`, () => watcher.stored.has(path), timeoutMs);
        const cpu = watch.stop();
        const watcherCpuSeconds = cpuSeconds(watcher.pid) - cpu0;
        const s3CpuSeconds = cpuSeconds(s3.pid) - s30;
        const peakRssBytes = memoryStats(watcher.pid).peakRssBytes;
        if (delivery.sha256 !== core.sha256 || delivery.rawBytes !== core.sizeBytes) {
          throw new Error(`CoreDog recorded ${delivery.rawBytes} bytes ${delivery.sha256} for ${path}`);
        }

        if (!baselineFirst) baselines = await measureBaseline(c, coreOptions, staging, s3);
        const run: PipelineRun = {
          sizeBytes: core.sizeBytes,
          dataBytes: core.dataBytes,
          toCaptureMs: watcher.captured.get(path)! - core.closedAt,
          toStoredMs: watcher.stored.get(path)! - core.closedAt,
          toNotifiedMs: delivery.at - core.closedAt,
          storedBytes: delivery.storedBytes,
          peakRssBytes,
          watcherCpuSeconds,
          s3CpuSeconds,
          cpu,
          baseline: baselines!.plain,
          baselineHash: baselines!.hash,
          load,
        };
        runs.push(run);
        log(
          `  ${c.label} #${i + 1}: CoreDog ${run.toStoredMs} ms to stored (capture at ${run.toCaptureMs} ms), ` +
            `${run.toNotifiedMs} ms to notified, peak RSS ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB, ` +
            `CPU ${watcherCpuSeconds.toFixed(2)} s; baseline ${(run.baseline.seconds * 1000).toFixed(0)} ms ` +
            `(+openssl sha256 ${(run.baselineHash.seconds * 1000).toFixed(0)} ms); foreign load ${
              cpu.foreignCores.toFixed(2)
            } cores`,
        );
      }
      cases.push(summarizePipelineCase(c, runs));
    }
    return { cases, idleRssBytes };
  } finally {
    await rig.stop();
  }
}

/** `<namespace>/<pod>/<container>` of a case, relative to CorefileDir. */
function podDir(c: PipelineCase): string {
  return `bench/pipeline-${c.label.replace(/\W+/g, "-").toLowerCase()}/app`;
}

async function measureBaseline(
  c: PipelineCase,
  coreOptions: { sizeBytes: number; dataFraction: number; seed: number; pid: number },
  staging: string,
  s3: { endpoint: string; pid: number },
): Promise<{ plain: BaselineResult & { s3CpuSeconds: number; cpu: CpuShare }; hash: BaselineResult }> {
  const key = `baseline/${c.label.replace(/\W+/g, "-")}/${coreOptions.pid}.core.zst`;
  // Each variant reads a freshly written file, as CoreDog does: the first read of a sparse file's holes
  // fills the page cache with zero pages, which a second reader would get for free.
  const plain = await withFreshCore(staging, coreOptions, async (path) => {
    const s30 = cpuSeconds(s3.pid);
    const watch = watchCpu([s3.pid]);
    const result = await runBaseline(path, { endpoint: s3.endpoint, key, scratchDir: staging });
    const cpu = watch.stop(result.cpuSeconds);
    return { ...result, s3CpuSeconds: cpuSeconds(s3.pid) - s30, cpu };
  });
  const hash = await withFreshCore(
    staging,
    coreOptions,
    (path) => runBaseline(path, { endpoint: s3.endpoint, key: `${key}.h`, scratchDir: staging, hash: true }),
  );
  return { plain, hash };
}

async function withFreshCore<T>(
  dir: string,
  coreOptions: { sizeBytes: number; dataFraction: number; seed: number; pid: number },
  use: (path: string) => Promise<T>,
): Promise<T> {
  const path = join(dir, `core.server.${coreOptions.pid}`);
  await writeSyntheticCore(path, coreOptions);
  try {
    return await use(path);
  } finally {
    await Deno.remove(path);
  }
}

/** Medians over the repeats of one case; throughput is the median of each repeat's MiB/s. */
export function summarizePipelineCase(c: PipelineCase, runs: PipelineRun[]): PipelineCaseResult {
  const mibOf = (bytes: number, ms: number) => bytes / 2 ** 20 / (ms / 1000);
  const coredogMiBps = median(runs.map((r) => mibOf(r.sizeBytes, r.toStoredMs)));
  const baselineMiBps = median(runs.map((r) => mibOf(r.sizeBytes, r.baseline.seconds * 1000)));
  const coredogUploadMiBps = median(runs.map((r) => mibOf(r.sizeBytes, r.toStoredMs - r.toCaptureMs)));
  return {
    ...c,
    runs,
    coredogMiBps,
    coredogNotifiedMiBps: median(runs.map((r) => mibOf(r.sizeBytes, r.toNotifiedMs))),
    coredogUploadMiBps,
    baselineMiBps,
    baselineHashMiBps: median(runs.map((r) => mibOf(r.sizeBytes, r.baselineHash.seconds * 1000))),
    ratio: coredogMiBps / baselineMiBps,
    uploadRatio: coredogUploadMiBps / baselineMiBps,
    peakRssBytes: Math.max(...runs.map((r) => r.peakRssBytes)),
  };
}
