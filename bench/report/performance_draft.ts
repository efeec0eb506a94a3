/**
 * The README's performance section, drafted from the latest full run: the
 * headline figures with their date and machine, the chart, and the
 * hand-written analysis kept in `bench/findings.md`.
 *
 * @module
 */

import { fixed, mib, ratio } from "../support/stats.ts";
import type { BenchResults } from "./bench_results.ts";
import { judgeTargets } from "./targets.ts";

/** The draft; `findings` is the analysis text to append. */
export function performanceDraft(results: BenchResults, options: { findings: string }): string {
  const m = results.machine;
  const date = results.startedAt.slice(0, 10);
  const lines = [
    "<!-- Drafted by `deno task bench` from bench/results/latest.md; merge into README.md's Performance section. -->",
    "",
    "## Performance",
    "",
    `Measured on ${date} on ${m.cpuModel} (${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}), Deno ${m.deno},`,
    "with `deno task bench` (method and how to run it: `bench/README.md`; every figure: `bench/results/latest.md`).",
    "Ratios compare with baselines measured in the same run on the same machine.",
    "",
    "| Question | Answer |",
    "| --- | --- |",
  ];
  const gib = results.pipeline?.cases.find((c) => c.sizeBytes === 1024 ** 3);
  const big = results.pipeline?.cases.find((c) => c.sizeBytes === 4 * 1024 ** 3);
  if (gib) {
    lines.push(
      `| How fast is a 1 GiB core stored? | ${
        fixed(gib.coredogMiBps, 0)
      } MiB/s from the kernel's close to the verified upload (${
        fixed(gib.coredogUploadMiBps, 0)
      } MiB/s for the upload itself); \`zstd -1 -T0\` + \`curl\` PUT: ${fixed(gib.baselineMiBps, 0)} MiB/s (ratio ${
        ratio(gib.ratio)
      }) |`,
    );
  }
  if (big) {
    lines.push(
      `| Memory while storing a 4 GiB core | ${mib(big.peakRssBytes)} MiB peak RSS (idle: ${
        mib(results.pipeline!.idleRssBytes)
      } MiB) |`,
    );
  }
  const l = results.latency;
  if (l) {
    lines.push(
      `| How fast is a crash reported? | p50 ${l.toNotified.p50} ms, p99 ${l.toNotified.p99} ms from close to the message (capture: p99 ${l.toCapture.p99} ms, with the default ${l.settleMs} ms settle time) |`,
    );
  }
  const b = results.burst;
  if (b) {
    lines.push(
      `| ${b.cores} cores at once | ${
        b.complete ? "all" : `**not all** (${b.storedObjects})`
      } stored and notified; drained ${
        fixed(b.drainToNotifiedMs / 1000, 1)
      } s after the last one was written; peak RSS ${mib(b.peakRssBytes)} MiB |`,
    );
  }
  const w = results.webhook;
  const plain = w?.networks.find((n) => n.network === "default");
  const quick = w?.networks.find((n) => n.network === "quickack");
  if (plain) {
    lines.push(
      `| Webhook under load (${w!.connections} TLS keep-alive connections) | ${
        fixed(plain.coredog.requestsPerSecond, 0)
      } req/s, p50 ${fixed(plain.coredog.p50Ms, 1)} ms, p99 ${fixed(plain.coredog.p99Ms, 1)} ms (bare Deno.serve: ${
        fixed(plain.bare.requestsPerSecond, 0)
      } req/s)${
        quick
          ? `; without delayed-ACK stalls ${fixed(quick.coredog.requestsPerSecond, 0)} req/s, p99 ${
            fixed(quick.coredog.p99Ms, 1)
          } ms (bare: ${fixed(quick.bare.requestsPerSecond, 0)})`
          : ""
      } |`,
    );
  }
  const i = results.idle;
  if (i) {
    lines.push(
      `| Idle cost | watcher with ${i.pods} pod directories: ${fixed(i.watcher.cpuPercentOfCore, 2)}% of a core, ${
        mib(i.watcher.rssBytes)
      } MiB RSS (a rescan: ${fixed(i.watcher.rescanCpuSeconds, 2)} CPU s every ${i.rescanSeconds} s); webhook: ${
        fixed(i.webhook.cpuPercentOfCore, 2)
      }% of a core, ${mib(i.webhook.rssBytes)} MiB RSS |`,
    );
  }
  lines.push("", "![Pipeline throughput by core size](bench/results/latest-pipeline.svg)", "", "### Targets", "");
  lines.push("| Target | Figure | Status |", "| --- | --- | --- |");
  for (const t of judgeTargets(results)) lines.push(`| ${t.target} | ${t.figure} | ${t.status} |`);
  lines.push("", options.findings.trim(), "");
  return lines.join("\n");
}
