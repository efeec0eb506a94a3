/**
 * The watcher as it runs on a node: its own process, started the way
 * `deno task watcher` starts it, with a configuration file, storing to the
 * local S3 server and notifying a local receiver through a `webhook`
 * NoticeChannel. Its log lines are read for the times of "capture a file"
 * and "stored core" (the line written after the HEAD check verified the
 * upload), taken from the lines' own `time` field.
 *
 * @module
 */

import { join } from "node:path";
import { taskRunArgs } from "../../tests/support/tasks.ts";
import { s3StorageYaml } from "./s3_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The permissions of the `watcher` task in deno.json. */
const WATCHER_ARGS = taskRunArgs("watcher");
/** How long the watcher may take to finish its first full scan before its start counts as failed. */
const STARTUP_TIMEOUT_MS = 120_000;

/** Options of {@linkcode startWatcherProcess}. */
export interface WatcherProcessOptions {
  /** `CorefileDir`. */
  corefileDir: string;
  /** Where the configuration file goes. */
  dir: string;
  s3Endpoint: string;
  /** URL of the notification receiver. */
  notifyUrl: string;
  /** Extra `Watcher:` keys, e.g. `["RescanSeconds: 5"]`; the defaults apply otherwise. */
  watcherYaml?: string[];
  /** Extra arguments for `deno run` before the script, e.g. `--cpu-prof`. */
  denoFlags?: string[];
}

/** A running watcher process. */
export interface WatcherProcess {
  pid: number;
  /** Log time of `capture a file:<path>` by path. */
  captured: Map<string, number>;
  /** Log time of `stored core` (verified upload) by path. */
  stored: Map<string, number>;
  /** Log time of "initial scan complete". */
  readyAt(): number | undefined;
  /** Every stdout line so far. */
  lines: string[];
  /** Waits until `check` holds, polling every 20 ms; rejects with the log tail after `timeoutMs`. */
  waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** The configuration the benchmarks run the watcher on: defaults except storage, channel and the API. */
export function watcherConfigYaml(options: WatcherProcessOptions): string {
  return [
    `CorefileDir: ${options.corefileDir}`,
    "ClusterName: bench",
    ...s3StorageYaml(options.s3Endpoint),
    "Watcher:",
    "  HealthPort: 0",
    '  Kubernetes: "off"',
    ...(options.watcherYaml ?? []).map((line) => `  ${line}`),
    // Every core gets its own message, so that each one's delivery can be timed;
    // crash-loop digests would hold repeats back by design.
    "CrashLoop:",
    "  Enabled: false",
    "NoticeChannel:",
    "  - chan: webhook",
    `    webhookurl: ${options.notifyUrl}`,
    "",
  ].join("\n");
}

/** Writes the configuration and starts the watcher; resolves once its first full scan is done. */
export async function startWatcherProcess(options: WatcherProcessOptions): Promise<WatcherProcess> {
  const configFile = join(options.dir, "coredog.yaml");
  await Deno.writeTextFile(configFile, watcherConfigYaml(options));
  const child = new Deno.Command(Deno.execPath(), {
    args: [...WATCHER_ARGS.slice(0, 1), ...(options.denoFlags ?? []), ...WATCHER_ARGS.slice(1), "--config", configFile],
    cwd: ROOT,
    env: { NO_COLOR: "1", COREDOG_LOG_LEVEL: "info" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const captured = new Map<string, number>();
  const stored = new Map<string, number>();
  let readyAt: number | undefined;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const onLine = (line: string) => {
    lines.push(line);
    const time = Date.parse(line.match(/^time=(\S+)/)?.[1] ?? "");
    const capture = line.match(/msg="capture a file:([^"]+)"/);
    if (capture) captured.set(capture[1], time);
    else if (line.includes('msg="stored core"')) {
      const path = line.match(/ path=("(?:[^"\\]|\\.)*"|\S+)/)?.[1];
      if (path) stored.set(path.startsWith('"') ? JSON.parse(path) : path, time);
    } else if (line.includes("initial scan complete")) readyAt = time;
  };
  collectLines(child.stdout, onLine);
  collectLines(child.stderr, (line) => lines.push(`stderr: ${line}`));

  async function waitUntil(what: string, check: () => boolean, limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!check()) {
      if (exited) throw new Error(`the watcher exited while waiting for ${what}:\n${lines.slice(-20).join("\n")}`);
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${limitMs} ms waiting for ${what}:\n${lines.slice(-20).join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const process: WatcherProcess = {
    pid: child.pid,
    captured,
    stored,
    readyAt: () => readyAt,
    lines,
    waitUntil,
    async stop() {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      await status;
    },
  };
  try {
    await waitUntil("the initial scan", () => readyAt !== undefined, STARTUP_TIMEOUT_MS);
  } catch (error) {
    await process.stop();
    throw error;
  }
  return process;
}

function collectLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): void {
  (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const part of parts) onLine(part);
    }
    if (rest) onLine(rest);
  })().catch(() => {});
}
