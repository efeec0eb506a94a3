/**
 * The targets of issue 7, judged against one run's figures. A target
 * whose benchmark did not run (or ran in quick mode without the size it
 * names) is "not measured", never "met".
 *
 * @module
 */

import { fixed, mib, ratio } from "../support/stats.ts";
import type { BenchResults } from "./bench_results.ts";

/** One target and where the run stands. */
export interface TargetVerdict {
  target: string;
  figure: string;
  status: "met" | "missed" | "not measured";
}

const GIB = 1024 ** 3;

/** Judges every target. */
export function judgeTargets(results: BenchResults): TargetVerdict[] {
  const verdicts: TargetVerdict[] = [];
  const verdict = (target: string, figure: string | undefined, ok: boolean | undefined) =>
    verdicts.push({
      target,
      figure: figure ?? "n/a",
      status: ok === undefined ? "not measured" : ok ? "met" : "missed",
    });

  const cases = results.pipeline?.cases ?? [];
  const gib = cases.find((c) => c.sizeBytes === GIB);
  verdict(
    "Pipeline throughput >= 0.9 of the baseline on the 1 GiB core (close to verified upload)",
    gib && `${ratio(gib.ratio)} (${fixed(gib.coredogMiBps)} vs ${fixed(gib.baselineMiBps)} MiB/s)`,
    gib && gib.ratio >= 0.9,
  );
  const big = cases.find((c) => c.sizeBytes === 4 * GIB);
  verdict(
    "Watcher peak RSS <= 128 MiB while uploading the 4 GiB core",
    big && `${mib(big.peakRssBytes)} MiB`,
    big && big.peakRssBytes <= 128 * 1024 * 1024,
  );
  const latency = results.latency;
  verdict(
    "Detection latency p99 < 1 s for small cores, settle included (close to capture log)",
    latency && `${fixed(latency.toCapture.p99, 0)} ms (to notification: ${fixed(latency.toNotified.p99, 0)} ms)`,
    latency && latency.toCapture.p99 < 1000,
  );
  const webhook = results.webhook?.networks.find((n) => n.network === "default");
  verdict(
    "Webhook >= 0.8 of the bare server's req/s (machine loopback, as deployed)",
    webhook &&
      `${ratio(webhook.ratio)} (${fixed(webhook.coredog.requestsPerSecond, 0)} vs ${
        fixed(webhook.bare.requestsPerSecond, 0)
      } req/s)`,
    webhook && webhook.ratio >= 0.8,
  );
  verdict(
    "Webhook p99 < 5 ms (machine loopback, as deployed)",
    webhook &&
      `${fixed(webhook.coredog.p99Ms, 2)} ms at ${results.webhook!.connections} connections, ${
        fixed(webhook.coredog.single.p99Ms, 2)
      } ms on one`,
    webhook && webhook.coredog.p99Ms < 5,
  );
  const quick = results.webhook?.networks.find((n) => n.network === "quickack");
  if (quick) {
    verdict(
      "Webhook >= 0.8 of the bare server's req/s (quick-ACK namespace: the servers' own capacity)",
      `${ratio(quick.ratio)} (${fixed(quick.coredog.requestsPerSecond, 0)} vs ${
        fixed(quick.bare.requestsPerSecond, 0)
      } req/s)`,
      quick.ratio >= 0.8,
    );
    verdict(
      "Webhook p99 < 5 ms (quick-ACK namespace)",
      `${fixed(quick.coredog.p99Ms, 2)} ms at ${results.webhook!.connections} connections, ${
        fixed(quick.coredog.single.p99Ms, 2)
      } ms on one`,
      quick.coredog.p99Ms < 5,
    );
  }
  const idle = results.idle;
  const fullIdle = idle && idle.pods >= 10_000;
  verdict(
    "Idle watcher CPU < 1% of a core with 10,000 pod directories",
    idle &&
      `${fixed(idle.watcher.cpuPercentOfCore, 2)}% with ${idle.pods} pod directories over ${idle.windowSeconds} s`,
    fullIdle ? idle.watcher.cpuPercentOfCore < 1 : undefined,
  );
  verdict(
    "Idle webhook RSS <= 64 MiB",
    idle && `${mib(idle.webhook.rssBytes)} MiB`,
    idle && idle.webhook.rssBytes <= 64 * 1024 * 1024,
  );
  return verdicts;
}
