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
  realCoreTargets(results, verdict);
  const latency = results.latency;
  verdict(
    "Crash to notification p50 <= 150 ms for a small core whose close the kernel reported",
    latency && `${fixed(latency.toNotified.p50, 0)} ms (settle ${latency.settleMs} ms included)`,
    latency && latency.toNotified.p50 <= 150,
  );
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

/** The targets of issue 14, on real crashed-process cores. */
function realCoreTargets(
  results: BenchResults,
  verdict: (target: string, figure: string | undefined, ok: boolean | undefined) => void,
): void {
  const cases = results.realCore?.cases ?? [];
  const find = (label: string) => cases.find((c) => c.label === label);
  const dense = find("1 GiB dense");
  verdict(
    "Watcher CPU before the close <= 0.1 s per GiB (real 1 GiB dense core)",
    dense && `${fixed(dense.cpuBeforeClosePerGiB, 3)} s/GiB`,
    dense && dense.cpuBeforeClosePerGiB <= 0.1,
  );
  verdict(
    "Watcher CPU in all <= 2.0 s per dense GiB (real 1 GiB dense core)",
    dense && `${fixed(dense.cpuBeforeClosePerGiB + dense.cpuAfterClosePerGiB, 2)} s/GiB`,
    dense && dense.cpuBeforeClosePerGiB + dense.cpuAfterClosePerGiB <= 2.0,
  );
  verdict(
    "Close to stored >= 1.0 x the speed of the lib-storage + SHA-256 script (real 1 GiB dense core)",
    dense &&
      `${ratio(dense.speedVsLibStorage)} (${fixed(dense.toStoredMs, 0)} vs ${fixed(dense.libStorageMs, 0)} ms; ` +
        `zstd -T0 + curl ${fixed(dense.zstdCurlMs, 0)} ms)`,
    dense && dense.speedVsLibStorage >= 1.0,
  );
  const big = find("4 GiB dense");
  verdict(
    "Watcher peak RSS <= 128 MiB while storing a real 4 GiB core",
    big && `${mib(big.peakRssBytes)} MiB`,
    big && big.peakRssBytes <= 128 * 1024 * 1024,
  );
  // Proportional to the data: the sparse core costs at most twice what its data alone would cost on a dense core.
  const sparse = find("4 GiB sparse");
  if (sparse && dense) {
    const dataGiB = sparse.dataMiB / 1024;
    const cpu = sparse.cpuBeforeClosePerGiB * sparse.sizeBytes / GIB +
      sparse.cpuAfterClosePerGiB * sparse.sizeBytes / GIB;
    const densePerGiB = dense.cpuBeforeClosePerGiB + dense.cpuAfterClosePerGiB;
    const denseMsPerGiB = dense.toStoredMs / (dense.sizeBytes / GIB);
    verdict(
      "Sparse cores: time and CPU proportional to the data (4 GiB sparse core, 128 MiB of data)",
      `${fixed(sparse.toStoredMs, 0)} ms and ${fixed(cpu, 2)} CPU s; its data alone at the dense rate: ${
        fixed(denseMsPerGiB * dataGiB, 0)
      } ms, ${fixed(densePerGiB * dataGiB, 2)} CPU s`,
      sparse.toStoredMs <= 2 * denseMsPerGiB * dataGiB && cpu <= 2 * densePerGiB * dataGiB,
    );
  } else {
    verdict(
      "Sparse cores: time and CPU proportional to the data (4 GiB sparse core, 128 MiB of data)",
      undefined,
      undefined,
    );
  }
}
