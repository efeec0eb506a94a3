/**
 * Everything one run measured, as written to `results/<date>.json` and
 * read by the report writers.
 *
 * @module
 */

import type { BurstResult } from "../burst_bench.ts";
import type { IdleResult } from "../idle_bench.ts";
import type { LatencyResult } from "../latency_bench.ts";
import type { PipelineResult } from "../pipeline_bench.ts";
import type { RealCoreResult } from "../real_core_bench.ts";
import type { MachineInfo } from "../support/machine_info.ts";
import type { WebhookResult } from "../webhook_bench.ts";

/** One run of `deno task bench`. */
export interface BenchResults {
  /** ISO time the run started. */
  startedAt: string;
  /** Minutes the run took. */
  minutes: number;
  quick: boolean;
  machine: MachineInfo;
  /** Load averages when the run ended. */
  loadAtEnd: string;
  pipeline?: PipelineResult;
  realCore?: RealCoreResult;
  latency?: LatencyResult;
  burst?: BurstResult;
  webhook?: WebhookResult;
  idle?: IdleResult;
  /** Benchmarks that failed, with the error. */
  failures: Record<string, string>;
}
