/**
 * Runs a real watcher in the test process against real directories and a
 * real storage backend, capturing its log lines and console messages.
 */

import { parseConfig } from "../../src/core/config.ts";
import type { CoredogConfig } from "../../src/core/config.ts";
import type { CrashRecord } from "../../src/core/crash_record.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { createLogger } from "../../src/log.ts";
import { createConsoleNotifier } from "../../src/notify/console.ts";
import { type Channel, createChannels } from "../../src/notify/mod.ts";
import { createStorage, type Storage } from "../../src/storage/mod.ts";
import { startWatcher, type Watcher } from "../../src/watcher/watcher.ts";
import { withDeadline } from "./process.ts";
import { S3_ACCESS_KEY, S3_SECRET_KEY } from "./s3_server.ts";

/** Longest a test watcher may take to stop before the test fails for a hang, ms. */
const STOP_DEADLINE_MS = 20_000;

/** A watcher under test. */
export interface TestWatcher {
  watcher: Watcher;
  config: CoredogConfig;
  storage: Storage;
  logs: string[];
  messages: string[];
  /** Stops the watcher; fails when it takes longer than 20 s (a hang), with its last log lines. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startTestWatcher}. */
export interface TestWatcherOptions {
  /** `CorefileDir` of the test watcher's configuration. */
  corefileDir: string;
  /** S3 endpoint; local storage under `localDir` when absent. */
  s3Endpoint?: string;
  localDir?: string;
  /** Extra YAML appended under StorageConfig. */
  storageYaml?: string[];
  /** Extra YAML appended under Watcher. */
  watcherYaml?: string[];
  /** Replaces storage (e.g. a fault-injecting wrapper of the real one). */
  wrapStorage?: (storage: Storage) => Storage;
  kube?: KubeClient;
  /** Extra top-level YAML. */
  topYaml?: string[];
  /** Also run the channels of the configuration's `NoticeChannel` list, built as the watcher's entrypoint builds them. */
  noticeChannels?: boolean;
}

/** The YAML a test watcher runs on. */
export function testConfigYaml(options: TestWatcherOptions): string {
  const storage = options.s3Endpoint
    ? [
      "  protocol: s3",
      `  s3AccesskeyID: ${S3_ACCESS_KEY}`,
      `  s3SecretAccessKey: ${S3_SECRET_KEY}`,
      "  S3Bucket: cores",
      `  S3Endpoint: ${options.s3Endpoint}`,
    ]
    : ["  protocol: local", `  CFSMountPath: ${options.localDir}`];
  return [
    `CorefileDir: ${options.corefileDir}`,
    "StorageConfig:",
    ...storage,
    ...(options.storageYaml ?? []).map((l) => `  ${l}`),
    "Watcher:",
    ...watcherLines(options.watcherYaml ?? []),
    ...(options.topYaml ?? []),
    "",
  ].join("\n");
}

/**
 * Test defaults under `Watcher`, each replaced by a line of `extra` for the
 * same key. The disk guard and the crash-loop cap are off unless a test
 * turns them on: elsewhere they would only make results depend on the
 * machine's free space.
 */
function watcherLines(extra: string[]): string[] {
  const defaults: Record<string, string> = {
    SettleMilliseconds: "200",
    HealthPort: "0",
    QuietSeconds: "2",
    RetryMaxSeconds: "2",
    KeepFree: '"0"',
    MaxUse: '"0"',
    MaxCoresPerContainerPerHour: "0",
  };
  const given = new Set(extra.map((line) => line.split(":")[0].trim()));
  return [
    ...Object.entries(defaults).filter(([key]) => !given.has(key)).map(([key, value]) => `  ${key}: ${value}`),
    ...extra.map((line) => `  ${line}`),
  ];
}

/** Starts a watcher with captured logs and console messages. */
export async function startTestWatcher(options: TestWatcherOptions): Promise<TestWatcher> {
  const config = parseConfig(testConfigYaml(options));
  const logs: string[] = [];
  const messages: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  const real = createStorage(config.storage);
  const storage = options.wrapStorage ? options.wrapStorage(real) : real;
  const channels: Channel[] = [{
    settings: { index: 0, chan: "console", webhookurl: "", keyword: "", template: "", options: {} },
    notifier: createConsoleNotifier("console#0", { write: (text) => messages.push(text) }),
  }, ...(options.noticeChannels ? createChannels(config.channels) : [])];
  const watcher = await startWatcher({
    config,
    storage,
    channels,
    logger,
    kube: options.kube,
    node: { name: "node-1", ip: "10.0.0.1" },
  });
  const stop = () =>
    withDeadline(watcher.stop(), "stopping the watcher", {
      timeoutMs: STOP_DEADLINE_MS,
      details: () => `last log lines:\n${logs.slice(-20).join("\n")}`,
    });
  return { watcher, config, storage, logs, messages, stop };
}

/** Polls `check` until it returns true, or fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Lists files below `dir` (relative paths), recursively. */
export async function listTree(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(sub: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(`${dir}/${sub}`));
    } catch {
      return;
    }
    for (const entry of entries) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(rel);
      else found.push(rel);
    }
  }
  await walk("");
  return found.sort();
}

/** The crash records (the `.json` files) stored below `bucketDir`, in the order of their paths. */
export async function storedRecords(bucketDir: string): Promise<CrashRecord[]> {
  const files = (await listTree(bucketDir)).filter((f) => f.endsWith(".json"));
  return await Promise.all(files.map(async (f) => JSON.parse(await Deno.readTextFile(`${bucketDir}/${f}`))));
}

/** True when a file exists at `path` (without following symlinks). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
