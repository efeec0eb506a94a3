/**
 * Benchmark 4, the admission webhook: a realistic AdmissionReview (a
 * Deployment's pod that opts in, so every request takes the full
 * injection path and writes its log line) POSTed over TLS for a fixed time
 * by a client that behaves like kube-apiserver (Go `net/http`, HTTP/1.1,
 * keep-alive, `TCP_NODELAY`, one request in flight per connection; see
 * `support/load_client.ts`), against CoreDog's `/mutate` run as
 * `deno task webhook` runs it, and in the same run against a bare
 * Deno.serve TLS echo. Rounds alternate between the servers so that other
 * load on the machine hits both alike.
 *
 * Each runs twice: on the machine's loopback, where Linux's delayed ACKs
 * meet Nagle-enabled TLS sockets (what kube-apiserver sees), and in a
 * private network namespace with quick ACKs, where the servers' own
 * capacity shows (see `support/net_namespace.ts`). With a baseline (a copy
 * of an earlier commit, `--webhook-baseline=<dir>`) its webhook is
 * measured in the same rounds, for a before/after of a change. Optional
 * variants take the webhook apart (see `servers/webhook_variant.ts`).
 *
 * @module
 */

import { join } from "node:path";
import { freePort } from "../tests/support/s3_server.ts";
import { taskRunArgs } from "../tests/support/tasks.ts";
import { buildLoadClient, type LoadResult, runLoad } from "./support/load_client.ts";
import { cpuSeconds, type CpuShare, memoryStats, watchCpu } from "./support/proc_stats.ts";
import { type ServerProcess, startServerProcess } from "./support/server_process.ts";
import { median } from "./support/stats.ts";
import { defaultNamespace, type NetNamespace, runIn, startQuickAckNamespace } from "./support/net_namespace.ts";
import { type TlsFiles, writeTlsFiles } from "./support/tls_files.ts";

const ROOT = new URL("../", import.meta.url).pathname;
/** `deno run`, the permissions and the entrypoint of the `webhook` task in deno.json. */
const WEBHOOK_ARGS = taskRunArgs("webhook");
/** After a server's first answer, how long it is left alone before its idle RSS is read. */
const IDLE_SETTLE_MS = 2000;
/** The AdmissionReview every request carries. */
export const WEBHOOK_FIXTURE = "tests/fixtures/admission/deployment_pod.json";

/** One server under load. */
export interface WebhookTargetResult {
  name: string;
  description: string;
  rounds: (LoadResult & { serverCpuCores: number; cpu: CpuShare })[];
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU per request, microseconds. */
  cpuPerRequestUs: number;
  /** VmRSS of the server started and idle, after one request and before any load. */
  idleRssBytes: number;
  /** VmHWM of the server after the runs. */
  peakRssBytes: number;
  /** One connection sending requests back to back: the latency of a lone caller, without queueing. */
  single: LoadResult;
}

/** The servers measured on one network. */
export interface WebhookNetworkResult {
  /** `default` (the machine's loopback) or `quickack`. */
  network: string;
  coredog: WebhookTargetResult;
  bare: WebhookTargetResult;
  /** CoreDog req/s over the bare server's. */
  ratio: number;
  variants: WebhookTargetResult[];
}

/** Result of {@linkcode runWebhookBench}. */
export interface WebhookResult {
  /** How the load is sent. */
  client: string;
  fixture: string;
  bodyBytes: number;
  /** Size of CoreDog's answer (an AdmissionReview with a JSON patch). */
  responseBytes: number;
  connections: number;
  seconds: number;
  networks: WebhookNetworkResult[];
  /** The earlier copy measured as `coredog-before`, when there was one. */
  baseline?: { dir: string; commit: string };
  /** Why a network could not be measured, if one could not. */
  skipped: string[];
}

/** Options of {@linkcode runWebhookBench}. */
export interface WebhookBenchOptions {
  workDir: string;
  seconds: number;
  rounds: number;
  connections: number;
  /** Also measure the variants that take the webhook apart. */
  variants: boolean;
  /** Load before the measured rounds, so that JIT warm-up does not count. */
  warmupSeconds: number;
  /** A copy of an earlier commit whose webhook is measured next to this one (`coredog-before`). */
  baselineDir?: string;
  log: (line: string) => void;
}

/** A server to put under load: how to start it and what it must answer. */
export interface Target {
  name: string;
  description: string;
  start: (port: number, tls: TlsFiles, options: { logFile: string; ns: NetNamespace }) => Promise<ServerProcess>;
  expectPatch: boolean;
}

/** Runs the load against CoreDog's webhook, the bare server and, optionally, the variants, on both networks. */
export async function runWebhookBench(options: WebhookBenchOptions): Promise<WebhookResult> {
  const { workDir, log } = options;
  const tls = await writeTlsFiles(join(workDir, "tls"));
  const bodyFile = join(ROOT, WEBHOOK_FIXTURE);
  const body = await Deno.readTextFile(bodyFile);
  const client = await buildLoadClient(workDir);
  const config = join(workDir, "webhook.yaml");
  await Deno.writeTextFile(config, webhookConfigYaml(workDir));
  const coredog = coredogTarget(config, {});
  const bare = bareTarget();
  const baseline = options.baselineDir ? await baselineTarget(options.baselineDir, config) : undefined;
  const compared = baseline ? [coredog, bare, baseline.target] : [coredog, bare];
  const networks: WebhookNetworkResult[] = [];
  const skipped: string[] = [];
  let responseBytes = 0;

  log("  network: default loopback (delayed ACKs, as kube-apiserver's node)");
  const plain = defaultNamespace();
  const first = await measureNetwork(plain, compared);
  networks.push(first.result);
  responseBytes = first.responseBytes;

  let quick: NetNamespace | undefined;
  try {
    quick = await startQuickAckNamespace();
  } catch (error) {
    skipped.push(`quick-ACK namespace unavailable: ${(error as Error).message}`);
    log(`  ${skipped.at(-1)}`);
  }
  if (quick) {
    try {
      log("  network: private namespace with quick ACKs (no 40 ms stalls: the servers' own capacity)");
      const targets = options.variants
        ? [
          ...compared,
          variantTarget("direct", "CoreDog's handler on Deno.serve TLS (no TCP_NODELAY)"),
          {
            ...coredogTarget(config, { COREDOG_LOG_LEVEL: "warn" }),
            name: "coredog-quiet",
            description: "CoreDog's webhook with COREDOG_LOG_LEVEL=warn (no line per request)",
          },
        ]
        : compared;
      networks.push((await measureNetwork(quick, targets)).result);
    } finally {
      await quick.close();
    }
  }
  return {
    client: "Go net/http (bench/load_client): HTTP/1.1, keep-alive, TCP_NODELAY, one request in flight per connection",
    fixture: WEBHOOK_FIXTURE,
    bodyBytes: new TextEncoder().encode(body).length,
    responseBytes,
    connections: options.connections,
    seconds: options.seconds,
    networks,
    baseline: baseline && { dir: options.baselineDir!, commit: baseline.commit },
    skipped,
  };

  async function measureNetwork(
    ns: NetNamespace,
    targets: Target[],
  ): Promise<{ result: WebhookNetworkResult; responseBytes: number }> {
    const servers = new Map<string, { server: ServerProcess; url: string; idleRssBytes: number }>();
    let answerBytes = 0;
    const load = { client, bodyFile, caFile: tls.caFile, wrap: ns.wrap };
    try {
      for (const target of targets) {
        const port = freePort();
        const logFile = join(workDir, `${ns.name}-${target.name}.log`);
        const server = await target.start(port, tls, { logFile, ns });
        const url = `https://127.0.0.1:${port}/mutate`;
        servers.set(target.name, { server, url, idleRssBytes: 0 });
        const bytes = await checkAnswer(ns, url, tls, target.expectPatch);
        if (target.name === "coredog") answerBytes = bytes;
        await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
        servers.get(target.name)!.idleRssBytes = memoryStats(server.pid).rssBytes;
        // Warm-up: JIT and TLS session set-up do not belong to the figures.
        await runLoad(url, { ...load, seconds: options.warmupSeconds, connections: options.connections });
      }
      const rounds = new Map<string, WebhookTargetResult["rounds"]>(targets.map((t) => [t.name, []]));
      for (let round = 0; round < options.rounds; round++) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const target of order) {
          const { server, url } = servers.get(target.name)!;
          const cpu0 = cpuSeconds(server.pid);
          const watch = watchCpu([server.pid]);
          const result = await runLoad(url, { ...load, seconds: options.seconds, connections: options.connections });
          const cpu = watch.stop();
          const serverCpuCores = (cpuSeconds(server.pid) - cpu0) / options.seconds;
          rounds.get(target.name)!.push({ ...result, serverCpuCores, cpu });
          log(
            `  ${ns.name} ${target.name} round ${round + 1}: ${result.requestsPerSecond.toFixed(0)} req/s, ` +
              `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}, ` +
              `server CPU ${serverCpuCores.toFixed(2)} cores, foreign load ${cpu.foreignCores.toFixed(2)} cores`,
          );
        }
      }
      const single = new Map<string, LoadResult>();
      for (const target of targets) {
        const result = await runLoad(servers.get(target.name)!.url, {
          ...load,
          seconds: Math.max(1, Math.round(options.seconds / 2)),
          connections: 1,
        });
        single.set(target.name, result);
        log(
          `  ${ns.name} ${target.name} one connection: ${result.requestsPerSecond.toFixed(0)} req/s, ` +
            `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`,
        );
      }
      const results = targets.map((t) =>
        summarize(t, rounds.get(t.name)!, {
          pid: servers.get(t.name)!.server.pid,
          single: single.get(t.name)!,
          idleRssBytes: servers.get(t.name)!.idleRssBytes,
        })
      );
      const [coredogResult, bareResult, ...variants] = results;
      return {
        result: {
          network: ns.name,
          coredog: coredogResult,
          bare: bareResult,
          ratio: coredogResult.requestsPerSecond / bareResult.requestsPerSecond,
          variants,
        },
        responseBytes: answerBytes,
      };
    } finally {
      for (const { server } of servers.values()) await server.stop();
    }
  }
}

/** The webhook reads the watcher's configuration for `CorefileDir`; storage settings do not matter to it. */
export function webhookConfigYaml(workDir: string): string {
  return [
    "CorefileDir: /data/coredog-system/dumps",
    "StorageConfig:",
    "  protocol: local",
    `  CFSMountPath: ${join(workDir, "bucket")}`,
    "",
  ].join("\n");
}

/** CoreDog's webhook entrypoint with the permissions of the `webhook` task. */
export function coredogTarget(config: string, env: Record<string, string>): Target {
  return {
    name: "coredog",
    description:
      "CoreDog's webhook (`deno task webhook`): Deno.serve with TCP_NODELAY, handler, a log line per request",
    expectPatch: true,
    start: (port, tls, { logFile, ns }) =>
      startServerProcess([...WEBHOOK_ARGS, ...coredogFlags(config, port, tls)], {
        cwd: ROOT,
        logFile,
        port,
        env,
        wrap: ns.wrap,
      }),
  };
}

function coredogFlags(config: string, port: number, tls: TlsFiles): string[] {
  return [
    "--config",
    config,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--tls-cert",
    tls.certFile,
    "--tls-key",
    tls.keyFile,
    "--health-port",
    "0",
    "--shutdown-delay",
    "0",
  ];
}

/**
 * The webhook of an earlier copy of the repository (e.g. `git archive` of
 * a commit), started from its own directory with its own `webhook` task.
 */
async function baselineTarget(dir: string, config: string): Promise<{ target: Target; commit: string }> {
  const tasks = JSON.parse(await Deno.readTextFile(join(dir, "deno.json"))).tasks;
  const command: string = typeof tasks.webhook === "string" ? tasks.webhook : tasks.webhook.command;
  const args = command.split(/\s+/).slice(1).map((arg) => arg.replace(/^'(.*)'$/, "$1"));
  const commit = (await Deno.readTextFile(join(dir, ".commit")).catch(() => "unknown")).trim();
  const target: Target = {
    name: "coredog-before",
    description: `CoreDog's webhook at ${commit.slice(0, 7)} (the baseline copy), same flags`,
    expectPatch: true,
    start: (port, tls, { logFile, ns }) =>
      startServerProcess([...args, ...coredogFlags(config, port, tls)], { cwd: dir, logFile, port, wrap: ns.wrap }),
  };
  return { target, commit };
}

function bareTarget(): Target {
  return {
    name: "bare",
    description: "bare Deno.serve TLS echo",
    expectPatch: false,
    start: (port, tls, { logFile, ns }) =>
      startServerProcess(
        ["run", "--allow-net", "--allow-read", "bench/servers/echo_server.ts", String(port), tls.certFile, tls.keyFile],
        { cwd: ROOT, logFile, port, wrap: ns.wrap },
      ),
  };
}

function variantTarget(mode: string, description: string): Target {
  return {
    name: mode,
    description,
    expectPatch: mode !== "relay-echo",
    start: (port, tls, { logFile, ns }) =>
      startServerProcess([
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "bench/servers/webhook_variant.ts",
        mode,
        String(port),
        tls.certFile,
        tls.keyFile,
      ], { cwd: ROOT, logFile, port, wrap: ns.wrap }),
  };
}

/** One request first, with curl: a server that answers wrongly must not be measured. Returns the answer's size. */
async function checkAnswer(ns: NetNamespace, url: string, tls: TlsFiles, expectPatch: boolean): Promise<number> {
  const text = await runIn(ns, [
    "curl",
    "-sS",
    "-f",
    "--cacert",
    tls.caFile,
    "-H",
    "content-type: application/json",
    "--data-binary",
    `@${join(ROOT, WEBHOOK_FIXTURE)}`,
    url,
  ]);
  const answer = JSON.parse(text);
  if (expectPatch && !(answer?.response?.allowed === true && typeof answer.response.patch === "string")) {
    throw new Error(`${url} answered without a patch: ${text.slice(0, 300)}`);
  }
  return new TextEncoder().encode(text).length;
}

function summarize(
  target: Target,
  rounds: WebhookTargetResult["rounds"],
  options: { pid: number; single: LoadResult; idleRssBytes: number },
): WebhookTargetResult {
  const rps = median(rounds.map((r) => r.requestsPerSecond));
  const cpuPerRequest = median(rounds.map((r) => r.serverCpuCores / r.requestsPerSecond));
  return {
    name: target.name,
    description: target.description,
    rounds,
    requestsPerSecond: rps,
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    cpuPerRequestUs: cpuPerRequest * 1e6,
    idleRssBytes: options.idleRssBytes,
    peakRssBytes: memoryStats(options.pid).peakRssBytes,
    single: options.single,
  };
}
