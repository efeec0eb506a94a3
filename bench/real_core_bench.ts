/**
 * Benchmark 6 (issue 14), real cores: a gcc-built program fills memory
 * (half zero pages, a quarter repetitive structs, a quarter random bytes)
 * and dies of SIGSEGV inside a pod directory of a watcher process; the
 * kernel writes the core page by page and closes it. Dense cores touch all
 * their memory; sparse ones also reserve a large region they barely touch
 * (holes in the core).
 *
 * Per core: close to stored (the verified upload's log line) and to the
 * notification's arrival; the watcher's CPU while the kernel writes the
 * core (before the close) and after it, per GiB; its peak RSS. And, on a
 * core of the same shape crashed again outside CorefileDir, to the same
 * S3 server in the same run, the two baselines: a Deno script piping the
 * zstd CLI into `@aws-sdk/lib-storage` plus SHA-256
 * (`support/libstorage_baseline.ts`), and `zstd -1 -T0` to a file then one
 * `curl --aws-sigv4` PUT (`support/baseline_upload.ts`).
 *
 * @module
 */

import { join } from "node:path";
import { runBaseline } from "./support/baseline_upload.ts";
import { runLibStorageBaseline } from "./support/libstorage_baseline.ts";
import { cpuSeconds, type CpuShare, loadAverage, memoryStats, resetPeakRss, watchCpu } from "./support/proc_stats.ts";
import { buildCrashFill, crashWithCore, realCoreProblem, type RealCoreShape } from "./support/real_core.ts";
import { median } from "./support/stats.ts";
import { startWatcherRig } from "./support/watcher_rig.ts";

/** One real-core shape to measure. */
export interface RealCoreCase extends Omit<RealCoreShape, "seed"> {
  label: string;
  repeats: number;
}

/** One crash measured, CoreDog and both baselines. */
export interface RealCoreRun {
  sizeBytes: number;
  /** Bytes the kernel wrote (allocated on disk), holes excluded. */
  diskBytes: number;
  toStoredMs: number;
  toNotifiedMs: number;
  storedBytes: number;
  /** Watcher CPU seconds while the kernel wrote the core (from the crash to the close). */
  cpuBeforeClose: number;
  /** Watcher CPU seconds from the close to the notification. */
  cpuAfterClose: number;
  /** ms the kernel took to write the core (crash to close). */
  dumpMs: number;
  peakRssBytes: number;
  /** Machine CPU from the close to the notification. */
  cpu: CpuShare;
  libStorage: { seconds: number; cpuSeconds: number; storedBytes: number };
  zstdCurl: { seconds: number; cpuSeconds: number; storedBytes: number };
  load: number;
}

/** Medians over the repeats of one case. */
export interface RealCoreCaseResult extends RealCoreCase {
  runs: RealCoreRun[];
  sizeBytes: number;
  toStoredMs: number;
  toNotifiedMs: number;
  libStorageMs: number;
  zstdCurlMs: number;
  /** lib-storage script's time / CoreDog's close to stored: above 1, CoreDog is faster. */
  speedVsLibStorage: number;
  speedVsZstdCurl: number;
  cpuBeforeClosePerGiB: number;
  cpuAfterClosePerGiB: number;
  peakRssBytes: number;
  foreignCores: number;
}

/** Result of {@linkcode runRealCoreBench}. */
export interface RealCoreResult {
  cases: RealCoreCaseResult[];
  idleRssBytes: number;
  /** Set when real cores cannot be made here; nothing was measured. */
  skipped?: string;
}

/** Options of {@linkcode runRealCoreBench}. */
export interface RealCoreBenchOptions {
  workDir: string;
  cases: RealCoreCase[];
  log: (line: string) => void;
}

const GIB = 1024 ** 3;

/** Crashes every case against one watcher, one S3 server and one receiver. */
export async function runRealCoreBench(options: RealCoreBenchOptions): Promise<RealCoreResult> {
  const { workDir, log } = options;
  const skipped = await realCoreProblem();
  if (skipped) {
    log(`  skipped: ${skipped}`);
    return { cases: [], idleRssBytes: 0, skipped };
  }
  const binary = await buildCrashFill(workDir);
  const staging = join(workDir, "baseline");
  await Deno.mkdir(staging, { recursive: true });
  const podDirs = options.cases.flatMap((c) => Array.from({ length: c.repeats }, (_, i) => podDir(c, i)));
  const rig = await startWatcherRig(workDir, { podDirs });
  const { corefileDir, s3, receiver, watcher } = rig;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idleRssBytes = memoryStats(watcher.pid).rssBytes;
    const cases: RealCoreCaseResult[] = [];
    let seed = 100;
    for (const c of options.cases) {
      const runs: RealCoreRun[] = [];
      for (let i = 0; i < c.repeats; i++) {
        seed++;
        const shape = { dataMiB: c.dataMiB, reservedMiB: c.reservedMiB, seed };
        const key = `baseline/${podDir(c, i)}`;
        // Alternate who goes first, so that writeback of the other's core hits both alike.
        const baselinesFirst = i % 2 === 1;
        let baselines: Pick<RealCoreRun, "libStorage" | "zstdCurl"> | undefined;
        if (baselinesFirst) baselines = await measureBaselines(binary, { staging, shape, key, endpoint: s3.endpoint });

        const load = loadAverage();
        resetPeakRss(watcher.pid);
        let cpuAtDump = 0;
        let cpuAtClose = 0;
        const crash = await crashWithCore(binary, join(corefileDir, podDir(c, i)), {
          ...shape,
          onDumpStart: () => cpuAtDump = cpuSeconds(watcher.pid),
          onClose: () => cpuAtClose = cpuSeconds(watcher.pid),
        });
        const watch = watchCpu([watcher.pid, s3.pid]);
        const timeoutMs = 120_000 + crash.sizeBytes / (5 * 1024 * 1024) * 1000;
        const delivery = await receiver.waitFor(crash.path, timeoutMs);
        const cpuAtNotified = cpuSeconds(watcher.pid);
        const cpu = watch.stop();
        await watcher.waitUntil(`stored ${crash.path}`, () => watcher.stored.has(crash.path), timeoutMs);
        const peakRssBytes = memoryStats(watcher.pid).peakRssBytes;
        if (crash.sizeBytes && delivery.rawBytes !== crash.sizeBytes) {
          throw new Error(`CoreDog recorded ${delivery.rawBytes} bytes for ${crash.path} of ${crash.sizeBytes}`);
        }

        if (!baselinesFirst) baselines = await measureBaselines(binary, { staging, shape, key, endpoint: s3.endpoint });
        const run: RealCoreRun = {
          sizeBytes: delivery.rawBytes,
          diskBytes: crash.diskBytes,
          toStoredMs: watcher.stored.get(crash.path)! - crash.closedAt,
          toNotifiedMs: delivery.at - crash.closedAt,
          storedBytes: delivery.storedBytes,
          cpuBeforeClose: cpuAtClose - cpuAtDump,
          cpuAfterClose: cpuAtNotified - cpuAtClose,
          dumpMs: crash.closedAt - crash.dumpStartedAt,
          peakRssBytes,
          cpu,
          ...baselines!,
          load,
        };
        runs.push(run);
        log(
          `  ${c.label} #${i + 1}: CoreDog ${run.toStoredMs} ms to stored, ${run.toNotifiedMs} ms to notified; ` +
            `CPU ${run.cpuBeforeClose.toFixed(2)} s during the ${run.dumpMs} ms dump, ` +
            `${run.cpuAfterClose.toFixed(2)} s after; peak RSS ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB; ` +
            `lib-storage ${(run.libStorage.seconds * 1000).toFixed(0)} ms, zstd+curl ${
              (run.zstdCurl.seconds * 1000).toFixed(0)
            } ms; foreign load ${cpu.foreignCores.toFixed(2)} cores`,
        );
      }
      cases.push(summarizeRealCoreCase(c, runs));
    }
    return { cases, idleRssBytes };
  } finally {
    await rig.stop();
  }
}

/** `<namespace>/<pod>/<container>` of one repeat; each crash gets its own, since the kernel names every core `core`. */
function podDir(c: RealCoreCase, repeat: number): string {
  return `bench/real-${c.label.replace(/\W+/g, "-").toLowerCase()}-${repeat}/app`;
}

async function measureBaselines(
  binary: string,
  options: { staging: string; shape: RealCoreShape; key: string; endpoint: string },
): Promise<Pick<RealCoreRun, "libStorage" | "zstdCurl">> {
  const { staging, shape, key, endpoint } = options;
  // Each baseline gets a freshly crashed core, as CoreDog does (in the page cache, just written).
  const fresh = async <T>(name: string, use: (path: string) => Promise<T>): Promise<T> => {
    const dir = join(staging, name);
    const crash = await crashWithCore(binary, dir, shape);
    try {
      return await use(crash.path);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
  const libStorage = await fresh("lib-storage", (path) => runLibStorageBaseline(path, { endpoint, key: `${key}.ls` }));
  const zstdCurl = await fresh(
    "zstd-curl",
    (path) => runBaseline(path, { endpoint, key: `${key}.zc`, scratchDir: staging }),
  );
  return {
    libStorage: { seconds: libStorage.seconds, cpuSeconds: libStorage.cpuSeconds, storedBytes: libStorage.storedBytes },
    zstdCurl: { seconds: zstdCurl.seconds, cpuSeconds: zstdCurl.cpuSeconds, storedBytes: zstdCurl.storedBytes },
  };
}

/** Medians over the repeats of one case. */
export function summarizeRealCoreCase(c: RealCoreCase, runs: RealCoreRun[]): RealCoreCaseResult {
  const gib = (r: RealCoreRun) => r.sizeBytes / GIB;
  return {
    ...c,
    runs,
    sizeBytes: median(runs.map((r) => r.sizeBytes)),
    toStoredMs: median(runs.map((r) => r.toStoredMs)),
    toNotifiedMs: median(runs.map((r) => r.toNotifiedMs)),
    libStorageMs: median(runs.map((r) => r.libStorage.seconds * 1000)),
    zstdCurlMs: median(runs.map((r) => r.zstdCurl.seconds * 1000)),
    speedVsLibStorage: median(runs.map((r) => r.libStorage.seconds * 1000 / r.toStoredMs)),
    speedVsZstdCurl: median(runs.map((r) => r.zstdCurl.seconds * 1000 / r.toStoredMs)),
    cpuBeforeClosePerGiB: median(runs.map((r) => r.cpuBeforeClose / gib(r))),
    cpuAfterClosePerGiB: median(runs.map((r) => r.cpuAfterClose / gib(r))),
    peakRssBytes: Math.max(...runs.map((r) => r.peakRssBytes)),
    foreignCores: median(runs.map((r) => r.cpu.foreignCores)),
  };
}
