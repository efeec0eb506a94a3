/**
 * The results table of one run, as Markdown: the machine, every figure,
 * the ratios against the baselines measured in the same run, and where
 * each target stands.
 *
 * @module
 */

import { fixed, median, mib, ratio, sizeLabel } from "../support/stats.ts";
import type { BenchResults } from "./bench_results.ts";
import { judgeTargets } from "./targets.ts";

/** The whole results page; `chartFile` is the SVG's name next to it. */
export function resultsMarkdown(results: BenchResults, options: { chartFile?: string }): string {
  const lines: string[] = [];
  const m = results.machine;
  lines.push(
    `# CoreDog benchmark results, ${results.startedAt.slice(0, 16).replace("T", " ")} UTC${
      results.quick ? " (quick mode: small sizes, short runs; not for comparison)" : ""
    }`,
    "",
    "Produced by `deno task bench" + (results.quick ? " --quick" : "") + "`; see `bench/README.md` for the method.",
    "",
    "## Machine",
    "",
    "| | |",
    "| --- | --- |",
    `| CPU | ${m.cpuModel}, ${m.cores} cores |`,
    `| Memory | ${m.memoryGiB} GiB |`,
    `| Kernel | ${m.kernel} |`,
    `| Deno | ${m.deno} (V8 ${m.v8}) |`,
    `| Code | ${m.code} |`,
    `| Tools | ${Object.entries(m.tools).map(([k, v]) => `${k} ${v}`).join(", ")} |`,
    `| Load average (1, 5, 15 min) | ${m.loadAtStart} at start, ${results.loadAtEnd} at end |`,
    `| Duration | ${fixed(results.minutes, 1)} min |`,
    "",
    "The machine is shared with other engineers' test runs. Each figure's row shows the CPU used by",
    'other processes during the measurement ("foreign load", in cores); above about 0.3 the figure is',
    "likely disturbed.",
    "",
    "## Targets",
    "",
    "| Target | Figure | Status |",
    "| --- | --- | --- |",
    ...judgeTargets(results).map((t) =>
      `| ${t.target} | ${t.figure} | ${t.status === "missed" ? "**missed**" : t.status} |`
    ),
    "",
  );
  for (const [name, error] of Object.entries(results.failures)) {
    lines.push(`**${name} failed:** \`${error.split("\n")[0]}\``, "");
  }
  pipelineSection(results, lines, options.chartFile);
  realCoreSection(results, lines);
  latencySection(results, lines);
  burstSection(results, lines);
  webhookSection(results, lines);
  idleSection(results, lines);
  return lines.join("\n");
}

function pipelineSection(results: BenchResults, lines: string[], chartFile?: string): void {
  const p = results.pipeline;
  if (!p) return;
  lines.push(
    "## 1. Pipeline",
    "",
    "Synthetic ELF cores (notes NT_PRSTATUS, NT_FPREGSET, NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE; anonymous",
    "memory mostly zero pages left as holes, plus runs of random pages) written like the kernel writes them into",
    "CorefileDir of a watcher process (S3 storage to a local s3rver process, a `webhook` channel to a local",
    "receiver). Times run from the file's close. Baseline on the same bytes, same server, same run:",
    "`zstd -1 -T0` to a file, `curl --aws-sigv4` PUT, signed HEAD to verify the size; `+sha256` adds",
    "`openssl dgst -sha256` of the raw core alongside zstd (CoreDog also hashes the raw core). Medians over the",
    "repeats; RSS is the watcher's VmHWM, reset before each core.",
    "",
    "| Core | Data pages | Repeats | Close to capture | Close to verified | Close to notified | CoreDog MiB/s | Upload only MiB/s | Baseline MiB/s | Baseline +sha256 MiB/s | Ratio | Ratio, upload only | Watcher peak RSS | Watcher CPU | Stored (CoreDog / baseline) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const c of p.cases) {
    const med = (f: (r: typeof c.runs[number]) => number) => Math.round(median(c.runs.map(f)) * 100) / 100;
    lines.push(
      `| ${c.label} | ${fixed(c.dataFraction * 100, 1)}% | ${c.runs.length} | ${
        fixed(med((r) => r.toCaptureMs), 0)
      } ms | ${fixed(med((r) => r.toStoredMs), 0)} ms | ${fixed(med((r) => r.toNotifiedMs), 0)} ms | ${
        fixed(c.coredogMiBps)
      } | ${fixed(c.coredogUploadMiBps)} | ${fixed(c.baselineMiBps)} | ${fixed(c.baselineHashMiBps)} | **${
        ratio(c.ratio)
      }** | ${ratio(c.uploadRatio)} | ${mib(c.peakRssBytes)} MiB | ${fixed(med((r) => r.watcherCpuSeconds), 2)} s | ${
        mib(med((r) => r.storedBytes))
      } / ${mib(med((r) => r.baseline.storedBytes))} MiB |`,
    );
  }
  lines.push("", `Watcher RSS when idle before the first core: ${mib(p.idleRssBytes)} MiB.`, "");
  if (chartFile) lines.push(`![Pipeline throughput by core size](${chartFile})`, "");
  lines.push(
    "<details><summary>Every run</summary>",
    "",
    "| Core | Close to verified | Baseline | Baseline +sha256 | Watcher CPU | S3 server CPU (CoreDog / baseline) | Baseline tools CPU | Peak RSS | Foreign load (CoreDog / baseline) | Load avg |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const c of p.cases) {
    for (const r of c.runs) {
      lines.push(
        `| ${sizeLabel(r.sizeBytes)} | ${r.toStoredMs} ms | ${fixed(r.baseline.seconds * 1000, 0)} ms | ${
          fixed(r.baselineHash.seconds * 1000, 0)
        } ms | ${fixed(r.watcherCpuSeconds, 2)} s | ${fixed(r.s3CpuSeconds, 2)} / ${
          fixed(r.baseline.s3CpuSeconds, 2)
        } s | ${fixed(r.baseline.cpuSeconds, 2)} s | ${mib(r.peakRssBytes)} MiB | ${fixed(r.cpu.foreignCores, 2)} / ${
          fixed(r.baseline.cpu.foreignCores, 2)
        } | ${fixed(r.load, 2)} |`,
      );
    }
  }
  lines.push("", "</details>", "");
}

function realCoreSection(results: BenchResults, lines: string[]): void {
  const r = results.realCore;
  if (!r) return;
  lines.push("## 1b. Real crashed-process cores", "");
  if (r.skipped) {
    lines.push(`Not measured: ${r.skipped}.`, "");
    return;
  }
  lines.push(
    "`bench/support/crash_fill.c` (gcc at bench time) fills memory (half zero pages, a quarter repetitive",
    "structs, a quarter random) and dies of SIGSEGV in a pod directory; the kernel writes the core page by page",
    "and closes it. Sparse cores also map a region they barely touch (holes). Baselines on a core of the same",
    "shape crashed again outside CorefileDir, same S3 server, same run: a Deno script piping `zstd -1 -T0`",
    "into `@aws-sdk/lib-storage` plus SHA-256, and `zstd -1 -T0` to a file then one `curl --aws-sigv4` PUT.",
    "Speed = baseline time / CoreDog's close to stored (above 1: CoreDog is faster). Medians over the repeats.",
    "",
    "| Core | Data | Repeats | Close to stored | Close to notified | lib-storage script | zstd + curl | Speed vs lib-storage | Speed vs zstd + curl | CPU before close | CPU after close | Peak RSS | Foreign load |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const c of r.cases) {
    lines.push(
      `| ${c.label} | ${c.dataMiB} MiB | ${c.runs.length} | ${fixed(c.toStoredMs, 0)} ms | ${
        fixed(c.toNotifiedMs, 0)
      } ms | ${fixed(c.libStorageMs, 0)} ms | ${fixed(c.zstdCurlMs, 0)} ms | **${ratio(c.speedVsLibStorage)}** | ${
        ratio(c.speedVsZstdCurl)
      } | ${fixed(c.cpuBeforeClosePerGiB, 3)} s/GiB | ${fixed(c.cpuAfterClosePerGiB, 2)} s/GiB | ${
        mib(c.peakRssBytes)
      } MiB | ${fixed(c.foreignCores, 2)} |`,
    );
  }
  lines.push(
    "",
    `Watcher RSS when idle before the first core: ${mib(r.idleRssBytes)} MiB.`,
    "",
    "<details><summary>Every run</summary>",
    "",
    "| Core | Size | Written by the kernel | Dump | Close to stored | Watcher CPU before / after close | lib-storage (CPU) | zstd + curl (CPU) | Stored (CoreDog / lib-storage / zstd) | Load avg |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const c of r.cases) {
    for (const run of c.runs) {
      lines.push(
        `| ${c.label} | ${mib(run.sizeBytes)} MiB | ${
          mib(run.diskBytes)
        } MiB | ${run.dumpMs} ms | ${run.toStoredMs} ms | ${fixed(run.cpuBeforeClose, 2)} / ${
          fixed(run.cpuAfterClose, 2)
        } s | ${fixed(run.libStorage.seconds * 1000, 0)} ms (${fixed(run.libStorage.cpuSeconds, 2)} s) | ${
          fixed(run.zstdCurl.seconds * 1000, 0)
        } ms (${fixed(run.zstdCurl.cpuSeconds, 2)} s) | ${mib(run.storedBytes)} / ${
          mib(run.libStorage.storedBytes)
        } / ${mib(run.zstdCurl.storedBytes)} MiB | ${fixed(run.load, 2)} |`,
      );
    }
  }
  lines.push("", "</details>", "");
}

function latencySection(results: BenchResults, lines: string[]): void {
  const l = results.latency;
  if (!l) return;
  lines.push(
    "## 2. Detection latency",
    "",
    `${l.cores} cores of ${sizeLabel(l.coreBytes)}, one at a time, each in its own pod directory; default`,
    `\`Watcher.SettleMilliseconds\` (${l.settleMs} ms) included.`,
    "",
    "| From close to | p50 | p99 | max |",
    "| --- | --- | --- | --- |",
    `| capture log line | ${l.toCapture.p50} ms | ${l.toCapture.p99} ms | ${l.toCapture.max} ms |`,
    `| verified upload | ${l.toStored.p50} ms | ${l.toStored.p99} ms | ${l.toStored.max} ms |`,
    `| notification received | ${l.toNotified.p50} ms | ${l.toNotified.p99} ms | ${l.toNotified.max} ms |`,
    "",
    `Watcher CPU over the run: ${fixed(l.watcherCpuSeconds, 2)} s; peak RSS ${mib(l.peakRssBytes)} MiB.`,
    "",
  );
}

function burstSection(results: BenchResults, lines: string[]): void {
  const b = results.burst;
  if (!b) return;
  lines.push(
    "## 3. Burst",
    "",
    `${b.cores} cores of ${sizeLabel(b.coreBytes)} written at once (16 writers), one per pod.`,
    "",
    "| | |",
    "| --- | --- |",
    `| All uploaded and notified | ${
      b.complete ? "yes" : "**no**"
    } (${b.storedObjects} objects in S3, ${b.notifications} notifications) |`,
    `| Writing took | ${b.writeMs} ms |`,
    `| Drain: last close to last verified upload | ${fixed(b.drainToStoredMs / 1000, 1)} s |`,
    `| Drain: last close to last notification | ${fixed(b.drainToNotifiedMs / 1000, 1)} s |`,
    `| Throughput | ${fixed(b.coresPerSecond, 1)} cores/s |`,
    `| Close to capture log (processing start, after the queue) p50 / p99 / max | ${b.captureP50Ms} / ${b.captureP99Ms} / ${b.captureMaxMs} ms |`,
    `| Captured 10 s (QuietSeconds) or more after close: at most this many close events were lost | ${b.lateCaptures} |`,
    `| Watcher peak RSS | ${mib(b.peakRssBytes)} MiB |`,
    `| Watcher CPU | ${fixed(b.watcherCpuSeconds, 2)} s |`,
    `| Foreign load | ${fixed(b.foreignCores, 2)} cores |`,
    "",
  );
}

function webhookSection(results: BenchResults, lines: string[]): void {
  const w = results.webhook;
  if (!w) return;
  lines.push(
    "## 4. Webhook",
    "",
    `${w.client ?? "wrk"} (${w.connections} connections, ${w.seconds} s per round, rounds alternating) POSTs`,
    `\`${w.fixture}\` (${w.bodyBytes} bytes; CoreDog answers ${w.responseBytes} bytes with a JSON patch) over TLS.`,
    '"One connection": a lone caller sending requests back to back (latency without queueing). "Idle RSS":',
    "the server after its first answer, before any load.",
    ...(w.baseline
      ? [`\`coredog-before\` is the webhook of commit ${w.baseline.commit}, measured in the same rounds.`]
      : []),
    "",
    "- **default**: the machine's loopback. Linux delays ACKs by up to 40 ms, and Deno.serve's TLS sockets keep",
    "  Nagle's algorithm on and send a response over ~400 bytes as two TLS records, so the second waits for the",
    "  delayed ACK: ~40 ms per response on a keep-alive connection (HTTP/1.1 and HTTP/2 alike). kube-apiserver",
    "  on a Linux node would see this.",
    "- **quickack**: a private network namespace whose loopback routes carry `quickack 1`; the stall is gone and",
    "  the servers' own capacity shows.",
    "",
  );
  for (const n of w.networks) {
    lines.push(
      `### Network: ${n.network} (CoreDog / bare req/s ratio: **${ratio(n.ratio)}**)`,
      "",
      "| Server | req/s | p50 | p99 | One connection req/s, p50 / p99 | Server CPU per request | Idle / peak RSS |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const t of [n.coredog, n.bare, ...n.variants]) {
      lines.push(
        `| ${t.name}: ${t.description} | ${fixed(t.requestsPerSecond, 0)} | ${fixed(t.p50Ms, 2)} ms | ${
          fixed(t.p99Ms, 2)
        } ms | ${fixed(t.single.requestsPerSecond, 0)}, ${fixed(t.single.p50Ms, 2)} / ${
          fixed(t.single.p99Ms, 2)
        } ms | ${fixed(t.cpuPerRequestUs, 0)} µs | ${t.idleRssBytes ? mib(t.idleRssBytes) : "?"} / ${
          mib(t.peakRssBytes)
        } MiB |`,
      );
    }
    const foreign = [n.coredog, n.bare, ...n.variants].flatMap((t) => t.rounds.map((r) => r.cpu.foreignCores));
    const errors = [n.coredog, n.bare, ...n.variants].reduce(
      (sum, t) => sum + t.rounds.reduce((s, r) => s + r.errors, 0),
      0,
    );
    lines.push(
      "",
      `Foreign load during the rounds: up to ${fixed(Math.max(...foreign), 2)} cores. Errors: ${errors}.`,
      "",
    );
  }
  for (const reason of w.skipped) lines.push(`Skipped: ${reason}`, "");
}

function idleSection(results: BenchResults, lines: string[]): void {
  const i = results.idle;
  if (!i) return;
  lines.push(
    "## 5. Idle",
    "",
    `${i.pods} pod directories (each with a container directory) under CorefileDir; both processes left alone`,
    `for ${i.windowSeconds} s; \`Watcher.RescanSeconds\` ${i.rescanSeconds}.`,
    "",
    "| | Watcher | Webhook |",
    "| --- | --- | --- |",
    `| CPU over the window | ${fixed(i.watcher.cpuSeconds, 2)} s (${
      fixed(i.watcher.cpuPercentOfCore, 2)
    }% of a core) | ${fixed(i.webhook.cpuSeconds, 2)} s (${fixed(i.webhook.cpuPercentOfCore, 2)}% of a core) |`,
    `| RSS at the end / peak | ${mib(i.watcher.rssBytes)} / ${mib(i.watcher.peakRssBytes)} MiB | ${
      mib(i.webhook.rssBytes)
    } / ${mib(i.webhook.peakRssBytes)} MiB |`,
    `| Start to first full scan | ${fixed(i.watcher.startupMs / 1000, 1)} s, ${
      fixed(i.watcher.startupCpuSeconds, 2)
    } CPU s | |`,
    `| One periodic rescan | ${fixed(i.watcher.rescanCpuSeconds, 2)} CPU s over ${
      fixed(i.watcher.rescanWallSeconds, 2)
    } s | |`,
    `| CPU outside the rescan | ${fixed(i.watcher.baselineCpuPercentOfCore, 2)}% of a core | |`,
    `| inotify watches | ${i.watcher.inotifyWatches} | |`,
    "",
  );
}
