/**
 * A watcher as its own process (so that tests can SIGKILL it), with a
 * config file written for it and its metrics read over HTTP.
 */

import { runDeno, type RunningProcess } from "./process.ts";
import { taskRunArgs } from "./tasks.ts";
import { freePort, S3_ACCESS_KEY, S3_SECRET_KEY } from "./s3_server.ts";

/** A running watcher process. */
export interface WatcherProcess extends RunningProcess {
  metricsPort: number;
  /** A counter or gauge from /metrics (0 when absent or unreachable). */
  metric(name: string): Promise<number>;
}

/** Options of {@linkcode startWatcherProcess}. */
export interface WatcherProcessOptions {
  /** `CorefileDir` of the configuration it writes. */
  corefileDir: string;
  /** S3 endpoint; else a directory store in `localDir`. */
  s3Endpoint?: string;
  localDir?: string;
  /** Extra lines under StorageConfig. */
  storageYaml?: string[];
}

/** Writes a config next to CorefileDir and starts `src/watcher/main.ts` on it. */
export async function startWatcherProcess(configPath: string, options: WatcherProcessOptions): Promise<WatcherProcess> {
  const metricsPort = freePort();
  const storage = options.s3Endpoint
    ? ["  S3Bucket: cores", `  S3Endpoint: ${options.s3Endpoint}`]
    : ["  protocol: local", `  CFSMountPath: ${options.localDir}`];
  await Deno.writeTextFile(
    configPath,
    [
      `CorefileDir: ${options.corefileDir}`,
      "StorageConfig:",
      ...storage,
      ...(options.storageYaml ?? []).map((l) => `  ${l}`),
      "NoticeChannel:",
      "  - chan: console",
      "Watcher:",
      `  HealthPort: ${metricsPort}`,
      "  SettleMilliseconds: 200",
      "  QuietSeconds: 2",
      "  RetryMaxSeconds: 2",
      '  KeepFree: "0"',
      '  MaxUse: "0"',
      "  MaxCoresPerContainerPerHour: 0",
      "",
    ].join("\n"),
  );
  const process = runDeno([...taskRunArgs("watcher"), "--config", configPath], {
    env: { COREDOG_S3_ACCESS_KEY_ID: S3_ACCESS_KEY, COREDOG_S3_SECRET_ACCESS_KEY: S3_SECRET_KEY },
  });
  return {
    ...process,
    metricsPort,
    async metric(name: string): Promise<number> {
      try {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        const line = text.split("\n").find((l) => l.startsWith(`${name} `));
        return line ? Number(line.split(" ")[1]) : 0;
      } catch {
        return 0;
      }
    },
  };
}
