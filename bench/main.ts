/**
 * `deno task bench`: runs the benchmarks of issues 7 and 14 (pipeline,
 * real crashed-process cores, detection latency, burst, webhook, idle) and writes the results table,
 * the raw figures and the throughput chart to `bench/results/`, and the
 * README's performance draft to `bench/README_PERFORMANCE_DRAFT.md`.
 *
 * Usage: deno task bench [--quick] [--only=pipeline,realcore,latency,burst,webhook,idle] [--report-only]
 *
 * `--quick` uses small sizes and short windows and writes to
 * `bench/results/quick/`; `--only` writes to `bench/results/partial/`, so
 * that neither replaces the latest full results. `--report-only` rewrites
 * the reports of the latest full run from `results/latest.json` (after an
 * edit of `findings.md`) without measuring anything.
 *
 * @module
 */

import { join } from "node:path";
import { runBurstBench } from "./burst_bench.ts";
import { runIdleBench } from "./idle_bench.ts";
import { runLatencyBench } from "./latency_bench.ts";
import { runPipelineBench, summarizePipelineCase } from "./pipeline_bench.ts";
import { runRealCoreBench, summarizeRealCoreCase } from "./real_core_bench.ts";
import type { BenchResults } from "./report/bench_results.ts";
import { performanceDraft } from "./report/performance_draft.ts";
import { resultsMarkdown } from "./report/results_markdown.ts";
import { judgeTargets } from "./report/targets.ts";
import { throughputChartSvg } from "./report/throughput_chart.ts";
import { BENCH_NAMES, type BenchName, parseRunOptions, type RunOptions } from "./run_options.ts";
import { machineInfo } from "./support/machine_info.ts";
import { loadAverages } from "./support/proc_stats.ts";
import { runWebhookBench } from "./webhook_bench.ts";

const BENCH_DIR = new URL(".", import.meta.url).pathname;

if (import.meta.main) {
  let options: RunOptions;
  try {
    options = parseRunOptions(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(2);
  }
  const results = options.reportOnly ? await readLatestResults() : await runBenchmarks(options);
  const written = await writeResults(results, options);
  console.log(`\nresults: ${written.join(", ")}`);
  for (const t of judgeTargets(results)) console.log(`  ${t.status.padEnd(12)} ${t.target}: ${t.figure}`);
  Deno.exit(Object.keys(results.failures).length > 0 ? 1 : 0);
}

/** Runs the selected benchmarks, each in its own scratch directory; a failure is recorded and the rest still run. */
export async function runBenchmarks(options: RunOptions): Promise<BenchResults> {
  const started = Date.now();
  const log = (line: string) => console.log(line);
  const results: BenchResults = {
    startedAt: new Date(started).toISOString(),
    minutes: 0,
    quick: options.quick,
    machine: await machineInfo(),
    loadAtEnd: "",
    failures: {},
  };
  log(
    `CoreDog benchmarks${
      options.quick ? " (quick)" : ""
    } on ${results.machine.cpuModel}, load ${results.machine.loadAtStart}`,
  );
  const steps: Record<BenchName, (workDir: string) => Promise<void>> = {
    pipeline: async (workDir) => {
      results.pipeline = await runPipelineBench({ workDir, cases: options.pipelineCases, log });
    },
    realcore: async (workDir) => {
      results.realCore = await runRealCoreBench({ workDir, cases: options.realCoreCases, log });
    },
    latency: async (workDir) => {
      results.latency = await runLatencyBench({
        workDir,
        cores: options.latencyCores,
        coreBytes: options.smallCoreBytes,
        log,
      });
    },
    burst: async (workDir) => {
      results.burst = await runBurstBench({
        workDir,
        cores: options.burstCores,
        coreBytes: options.smallCoreBytes,
        timeoutMs: 600_000,
        log,
      });
    },
    webhook: async (workDir) => {
      results.webhook = await runWebhookBench({ workDir, ...options.webhook, log });
    },
    idle: async (workDir) => {
      results.idle = await runIdleBench({ workDir, ...options.idle, log });
    },
  };
  for (const name of BENCH_NAMES) {
    if (!options.only.has(name)) continue;
    log(`\n== ${name}`);
    const workDir = await Deno.makeTempDir({ prefix: `coredog-bench-${name}-` });
    const stepStarted = Date.now();
    try {
      await steps[name](workDir);
    } catch (error) {
      results.failures[name] = (error as Error).stack ?? String(error);
      log(`${name} failed: ${(error as Error).message}`);
    } finally {
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
    }
    log(`== ${name} took ${((Date.now() - stepStarted) / 1000).toFixed(1)} s`);
  }
  results.minutes = (Date.now() - started) / 60_000;
  results.loadAtEnd = loadAverages();
  return results;
}

/** The latest full run's raw figures, with the summaries computed again (the summary rules may have changed). */
async function readLatestResults(): Promise<BenchResults> {
  const results = JSON.parse(await Deno.readTextFile(join(BENCH_DIR, "results", "latest.json"))) as BenchResults;
  if (results.pipeline) {
    results.pipeline.cases = results.pipeline.cases.map((c) => summarizePipelineCase(c, c.runs));
  }
  if (results.realCore) {
    results.realCore.cases = results.realCore.cases.map((c) => summarizeRealCoreCase(c, c.runs));
  }
  return results;
}

/** Writes `<stamp>.md`, `<stamp>.json`, `<stamp>-pipeline.svg` and their `latest` copies; returns the paths. */
export async function writeResults(results: BenchResults, options: RunOptions): Promise<string[]> {
  const partial = options.only.size < BENCH_NAMES.length;
  const dir = join(BENCH_DIR, "results", ...(options.quick ? ["quick"] : partial ? ["partial"] : []));
  await Deno.mkdir(dir, { recursive: true });
  const stamp = results.startedAt.slice(0, 16).replace(/[:T]/g, "-");
  const written: string[] = [];
  for (const name of [stamp, "latest"]) {
    const chartFile = results.pipeline ? `${name}-pipeline.svg` : undefined;
    if (chartFile) {
      const title = `Pipeline throughput by core size, ${results.startedAt.slice(0, 10)}${
        options.quick ? " (quick)" : ""
      }`;
      await Deno.writeTextFile(join(dir, chartFile), throughputChartSvg(results.pipeline!.cases, { title }));
      written.push(join(dir, chartFile));
    }
    await Deno.writeTextFile(join(dir, `${name}.md`), resultsMarkdown(results, { chartFile }));
    await Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(results, null, 2) + "\n");
    written.push(join(dir, `${name}.md`), join(dir, `${name}.json`));
  }
  if (!options.quick && !partial) {
    const findings = await Deno.readTextFile(join(BENCH_DIR, "findings.md")).catch(() => "");
    const draft = join(BENCH_DIR, "README_PERFORMANCE_DRAFT.md");
    await Deno.writeTextFile(draft, performanceDraft(results, { findings }));
    // Formatted like the rest of the repository, so that `deno fmt --check` stays clean after a run.
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", draft], stdout: "null", stderr: "null" })
      .output();
    written.push(draft);
  }
  return written.map((path) => path.replace(BENCH_DIR, "bench/"));
}
