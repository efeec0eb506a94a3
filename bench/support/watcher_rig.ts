/**
 * Everything a watcher benchmark needs around the watcher: the S3 server,
 * the notification receiver, pod directories made before the watcher
 * starts (as the kubelet makes them when a container starts, long before
 * it crashes), and the watcher process itself.
 *
 * @module
 */

import { join } from "node:path";
import { type NotificationReceiver, startNotificationReceiver } from "./notification_receiver.ts";
import { type S3Process, startS3Process } from "./s3_process.ts";
import { startWatcherProcess, type WatcherProcess } from "./watcher_process.ts";

/** Mode of the created directories: the watcher's default DirMode (1733), as after an earlier run. */
const DIR_MODE = 0o1733;

/** A watcher with its S3 server and receiver. */
export interface WatcherRig {
  /** CorefileDir. */
  corefileDir: string;
  s3: S3Process;
  receiver: NotificationReceiver;
  watcher: WatcherProcess;
  /** Wall ms from spawning the watcher to its "initial scan complete". */
  startupMs: number;
  /** Stops the watcher, the receiver and the S3 server. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startWatcherRig}. */
export interface WatcherRigOptions {
  /** Directories to create under CorefileDir before the watcher starts, relative to it. */
  podDirs?: string[];
  /** Extra `Watcher:` keys. */
  watcherYaml?: string[];
}

/** Starts the S3 server, the receiver and a watcher on `<workDir>/dumps`. */
export async function startWatcherRig(workDir: string, options: WatcherRigOptions = {}): Promise<WatcherRig> {
  const corefileDir = join(workDir, "dumps");
  await Deno.mkdir(corefileDir, { recursive: true });
  const made = new Set<string>();
  for (const dir of options.podDirs ?? []) {
    // Each level gets the mode, as the watcher leaves namespace, pod and container directories.
    const parts = dir.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const path = join(corefileDir, ...parts.slice(0, i));
      if (made.has(path)) continue;
      made.add(path);
      try {
        Deno.mkdirSync(path);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      Deno.chmodSync(path, DIR_MODE);
    }
  }
  const s3 = await startS3Process(workDir);
  const receiver = startNotificationReceiver();
  const started = Date.now();
  let watcher: WatcherProcess;
  try {
    watcher = await startWatcherProcess({
      corefileDir,
      dir: workDir,
      s3Endpoint: s3.endpoint,
      notifyUrl: receiver.url,
      watcherYaml: options.watcherYaml,
    });
  } catch (error) {
    await receiver.stop();
    await s3.stop();
    throw error;
  }
  return {
    corefileDir,
    s3,
    receiver,
    watcher,
    startupMs: (watcher.readyAt() ?? Date.now()) - started,
    async stop() {
      await watcher.stop();
      await receiver.stop();
      await s3.stop();
    },
  };
}
