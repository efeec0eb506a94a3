/**
 * File-system events of CorefileDir, from a worker: inotify through FFI
 * (`inotify_ffi.ts`), or `Deno.watchFs` when FFI is not allowed.
 *
 * What follows is about the `Deno.watchFs` fallback.
 * Deno's event thread opens the path of every event to compare it with the
 * watched root (`same_file::is_same_file` in Deno's `fs_events.rs`), and
 * holds a lock shared by every watch of the isolate while it does. Opening
 * a FIFO blocks until a writer appears, so a FIFO in a dump directory
 * stops the thread (`fifo_guard.ts` frees it by holding a writer), and a
 * FIFO removed before it could be held stops it for good. In the main
 * isolate, closing that watch or opening another would then wait on the
 * lock forever, and with it the whole watcher, shutdown included.
 * In a worker, the watch can always be thrown away: terminating the worker
 * never waits on its threads, and a new worker has a lock of its own.
 *
 * @module
 */

import { closeInotifyFd } from "./inotify_ffi.ts";

/** Where events come from: inotify through FFI, or `Deno.watchFs`. */
export type FileEventBackend = "inotify" | "watchFs";

/**
 * Environment variable that forces the `Deno.watchFs` backend even where
 * FFI is allowed (value `watchfs`); for comparing the two, and as a way out
 * should inotify through FFI misbehave on some node.
 */
export const FILE_EVENTS_ENV = "COREDOG_FILE_EVENTS";

/** What the worker posts. */
export type FileEventMessage =
  | { type: "ready"; backend: FileEventBackend; fd?: number }
  | { type: "events"; events: { kind: string; paths: string[] }[] }
  | { type: "error"; message: string };

/** Options of {@linkcode watchFileEvents}. */
export interface FileEventOptions {
  /** An event (`kind` as `Deno.FsEvent.kind`) for `paths`. */
  onEvent(kind: string, paths: string[]): void;
  /** The watch could not start or stopped; no more events will come. */
  onError(message: string): void;
}

/** A running watch. */
export interface FileEventStream {
  /** Resolves true once events flow, false when the watch could not start. */
  ready: Promise<boolean>;
  /** The backend in use, once ready. */
  backend(): FileEventBackend | undefined;
  /** Ends the watch at once, whatever state its threads are in. */
  close(): void;
}

/** Watches `root` recursively in a worker of its own. */
export function watchFileEvents(root: string, options: FileEventOptions): FileEventStream {
  const worker = new Worker(new URL("./fs_event_worker.ts", import.meta.url).href, { type: "module" });
  let closed = false;
  let backend: FileEventBackend | undefined;
  let inotifyFd: number | undefined;
  let settle!: (ok: boolean) => void;
  const ready = new Promise<boolean>((resolve) => settle = resolve);
  worker.onmessage = (event: MessageEvent<FileEventMessage>) => {
    if (closed) return;
    const message = event.data;
    if (message.type === "ready") {
      backend = message.backend;
      inotifyFd = message.fd;
      settle(true);
    } else if (message.type === "events") {
      for (const { kind, paths } of message.events) options.onEvent(kind, paths);
    } else {
      settle(false);
      options.onError(message.message);
    }
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    if (closed) return;
    settle(false);
    options.onError(event.message);
  };
  worker.postMessage({ root, watchFsOnly: forcedWatchFs() });
  return {
    ready,
    backend: () => backend,
    close(): void {
      if (closed) return;
      closed = true;
      settle(false);
      worker.terminate();
      // A terminated worker closes nothing; the descriptor (and its watches) would stay for the process's life.
      if (inotifyFd !== undefined) closeInotifyFd(inotifyFd);
    },
  };
}

function forcedWatchFs(): boolean {
  try {
    return Deno.env.get(FILE_EVENTS_ENV)?.toLowerCase() === "watchfs";
  } catch {
    return false;
  }
}
