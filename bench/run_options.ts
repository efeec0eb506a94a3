/**
 * What a run measures: the full sizes of issue 7, or the quick mode's
 * small sizes and short windows (well under a minute, to keep the
 * benchmarks working in CI).
 *
 * @module
 */

import type { PipelineCase } from "./pipeline_bench.ts";
import type { RealCoreCase } from "./real_core_bench.ts";

/** Names of the benchmarks, in the order they run. */
export const BENCH_NAMES = ["pipeline", "realcore", "latency", "burst", "webhook", "idle"] as const;

/** One of {@linkcode BENCH_NAMES}. */
export type BenchName = typeof BENCH_NAMES[number];

/** Sizes and durations of a run. */
export interface RunOptions {
  quick: boolean;
  /** Rewrite the reports from `results/latest.json` instead of measuring (after editing `findings.md`). */
  reportOnly: boolean;
  only: Set<BenchName>;
  pipelineCases: PipelineCase[];
  /** Real crashed-process cores (issue 14). */
  realCoreCases: RealCoreCase[];
  latencyCores: number;
  smallCoreBytes: number;
  burstCores: number;
  webhook: {
    seconds: number;
    rounds: number;
    connections: number;
    variants: boolean;
    warmupSeconds: number;
    /** `--webhook-baseline=<dir>`: an earlier copy whose webhook is measured in the same rounds. */
    baselineDir?: string;
  };
  idle: { pods: number; windowSeconds: number; rescanSeconds: number };
}

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/**
 * Reads `--quick`, `--report-only`, `--only=pipeline,webhook` and
 * `--webhook-baseline=<dir>` from `args`.
 *
 * @throws {Error} for an unknown argument or benchmark name.
 */
export function parseRunOptions(args: string[]): RunOptions {
  let quick = false;
  let reportOnly = false;
  let baselineDir: string | undefined;
  let only = new Set<BenchName>(BENCH_NAMES);
  for (const arg of args) {
    if (arg === "--quick") quick = true;
    else if (arg === "--report-only") reportOnly = true;
    else if (arg.startsWith("--webhook-baseline=")) baselineDir = arg.slice("--webhook-baseline=".length);
    else if (arg.startsWith("--only=")) {
      const names = arg.slice("--only=".length).split(",").filter(Boolean);
      for (const name of names) {
        if (!(BENCH_NAMES as readonly string[]).includes(name)) {
          throw new Error(`unknown benchmark ${name}; one of ${BENCH_NAMES.join(", ")}`);
        }
      }
      only = new Set(names as BenchName[]);
    } else {
      throw new Error(
        `unknown argument ${arg}; use --quick, --report-only, --webhook-baseline=<dir> and --only=${
          BENCH_NAMES.join(",")
        }`,
      );
    }
  }
  // Both modes share these; only the sizes and windows below differ.
  const shared = { quick, reportOnly, only, smallCoreBytes: MIB };
  const webhook = { connections: 16, warmupSeconds: 1, baselineDir };
  if (quick) {
    return {
      ...shared,
      pipelineCases: [
        { label: "16 MiB", sizeBytes: 16 * MIB, dataFraction: 0.125, repeats: 1 },
        { label: "64 MiB", sizeBytes: 64 * MIB, dataFraction: 0.125, repeats: 1 },
        { label: "256 MiB sparse", sizeBytes: 256 * MIB, dataFraction: 0.01, repeats: 1 },
      ],
      realCoreCases: [
        { label: "64 MiB dense", dataMiB: 64, reservedMiB: 0, repeats: 1 },
        { label: "256 MiB sparse", dataMiB: 16, reservedMiB: 240, repeats: 1 },
      ],
      latencyCores: 8,
      burstCores: 50,
      webhook: { ...webhook, seconds: 1, rounds: 1, variants: false },
      idle: { pods: 1000, windowSeconds: 6, rescanSeconds: 5 },
    };
  }
  return {
    ...shared,
    pipelineCases: [
      { label: "64 MiB", sizeBytes: 64 * MIB, dataFraction: 0.125, repeats: 5 },
      { label: "1 GiB", sizeBytes: GIB, dataFraction: 0.125, repeats: 3 },
      { label: "4 GiB sparse", sizeBytes: 4 * GIB, dataFraction: 0.01, repeats: 2 },
    ],
    realCoreCases: [
      { label: "256 MiB dense", dataMiB: 256, reservedMiB: 0, repeats: 3 },
      { label: "1 GiB dense", dataMiB: 1024, reservedMiB: 0, repeats: 3 },
      { label: "4 GiB dense", dataMiB: 4096, reservedMiB: 0, repeats: 1 },
      { label: "256 MiB sparse", dataMiB: 32, reservedMiB: 224, repeats: 2 },
      { label: "1 GiB sparse", dataMiB: 64, reservedMiB: 960, repeats: 2 },
      { label: "4 GiB sparse", dataMiB: 128, reservedMiB: 3968, repeats: 1 },
    ],
    latencyCores: 200,
    burstCores: 1000,
    webhook: { ...webhook, seconds: 10, rounds: 3, variants: true },
    idle: { pods: 10_000, windowSeconds: 60, rescanSeconds: 60 },
  };
}
