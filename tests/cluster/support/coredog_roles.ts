/**
 * CoreDog's two roles as host processes of the tier, each with the
 * permissions of its deno.json task and a ServiceAccount identity of its
 * own, so that the chart's RBAC alone decides what they may do.
 *
 * @module
 */

import { join } from "node:path";
import { runDeno, type RunningProcess } from "../../support/process.ts";
import { taskRunArgs } from "../../support/tasks.ts";
import { loadTier } from "./tier_env.ts";

/** The webhook's HTTPS port on the test host (the EndpointSlice's port). */
export const WEBHOOK_PORT = 8443;

/** A running role. */
export interface RoleProcess extends RunningProcess {
  /** A counter from /metrics, summed over its label sets (0 when absent). */
  metric(name: string): Promise<number>;
  /** SIGTERM, wait for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode startWebhookRole}. */
export interface WebhookRoleOptions {
  dir: string;
  kubeconfig: string;
  namespace: string;
  healthPort: number;
  /** The configuration file's text: what the chart's ConfigMap coredog-webhook holds. */
  configText: string;
  /** The HTTPS port; {@linkcode WEBHOOK_PORT} when not given. */
  port?: number;
}

/** Starts the webhook in self-managed TLS mode, serving the test host address. */
export async function startWebhookRole(options: WebhookRoleOptions): Promise<RoleProcess> {
  const tier = loadTier();
  const config = join(options.dir, "webhook.yaml");
  await Deno.writeTextFile(config, options.configText);
  const process = runDeno([
    ...taskRunArgs("webhook"),
    "--config",
    config,
    "--kubeconfig",
    options.kubeconfig,
    "--tls-mode",
    "self-managed",
    "--namespace",
    options.namespace,
    "--host",
    tier.testHostAddress,
    "--port",
    String(options.port ?? WEBHOOK_PORT),
    "--health-port",
    String(options.healthPort),
    "--shutdown-delay",
    "0",
    "--tls-check-interval",
    "2",
  ]);
  // The health port listens where the HTTPS port does.
  return withMetrics(process, `http://${tier.testHostAddress}:${options.healthPort}/metrics`);
}

/** Options of {@linkcode startWatcherRole}. */
export interface WatcherRoleOptions {
  dir: string;
  kubeconfig?: string;
  corefileDir: string;
  healthPort: number;
  /** The lines under StorageConfig. */
  storage: string[];
  /** Extra lines under Watcher. */
  watcher?: string[];
  nodeName: string;
  env?: Record<string, string>;
}

/** Writes a watcher config and starts the watcher on it. */
export async function startWatcherRole(options: WatcherRoleOptions): Promise<RoleProcess> {
  const config = join(options.dir, "watcher.yaml");
  await Deno.writeTextFile(
    config,
    [
      `CorefileDir: ${options.corefileDir}`,
      "StorageConfig:",
      ...options.storage.map((line) => `  ${line}`),
      "NoticeChannel:",
      "  - chan: console",
      "Watcher:",
      `  HealthPort: ${options.healthPort}`,
      "  SettleMilliseconds: 200",
      "  QuietSeconds: 2",
      "  RetryMaxSeconds: 2",
      '  KeepFree: "0"',
      '  MaxUse: "0"',
      "  MaxCoresPerContainerPerHour: 0",
      ...(options.watcher ?? []).map((line) => `  ${line}`),
      "",
    ].join("\n"),
  );
  const process = runDeno([
    ...taskRunArgs("watcher"),
    "--config",
    config,
    ...(options.kubeconfig ? ["--kubeconfig", options.kubeconfig] : []),
  ], { env: { NODE_NAME: options.nodeName, ...options.env } });
  return withMetrics(process, `http://127.0.0.1:${options.healthPort}/metrics`);
}

function withMetrics(process: RunningProcess, url: string): RoleProcess {
  return {
    ...process,
    async metric(name: string): Promise<number> {
      try {
        const text = await (await fetch(url)).text();
        return text.split("\n")
          .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
          .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
      } catch {
        return 0;
      }
    },
    async stop(graceMs = 15_000) {
      process.kill("SIGTERM");
      const timer = setTimeout(() => process.kill("SIGKILL"), graceMs);
      const status = await process.status;
      clearTimeout(timer);
      return status;
    },
  };
}

/**
 * Waits for a stdout line matching `pattern`; fails at once, with the role's log, when the role exits
 * first (a configuration error), or after `timeoutMs`.
 */
export async function waitForRoleLine(process: RunningProcess, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const exited = process.status.then((status) => status);
  const line = process.waitForLine(pattern, timeoutMs).then(() => undefined);
  const first = await Promise.race([line, exited]).catch((error: Error) => error);
  if (first instanceof Error) throw new Error(`${first.message.split("\n")[0]}\n${roleLog(process)}`);
  if (first !== undefined) {
    throw new Error(`the role exited (code ${first.code}) before ${pattern}:\n${roleLog(process)}`);
  }
}

/** The log lines a role wrote so far, stdout and stderr, for failure messages. */
export function roleLog(process: RunningProcess): string {
  return [...process.lines, ...process.stderr].slice(-40).join("\n");
}
