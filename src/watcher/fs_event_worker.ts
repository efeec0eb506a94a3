/**
 * Worker side of {@linkcode watchFileEvents}: watches the root it is given
 * and posts the events in batches.
 *
 * It prefers inotify through FFI (`inotify_ffi.ts`: no event per written
 * page, overflows reported, no path ever opened) and falls back to
 * `Deno.watchFs` when FFI is not allowed. It lives in a worker because
 * Deno's event thread can block for good (see `fs_events.ts`); a watch in
 * the main isolate could then neither be closed nor replaced without
 * freezing the watcher.
 *
 * @module
 */

import type { FileEventMessage } from "./fs_events.ts";
import { openInotify } from "./inotify_ffi.ts";

const port = globalThis as unknown as {
  postMessage(message: FileEventMessage): void;
  onmessage: ((event: MessageEvent<{ root: string; watchFsOnly: boolean }>) => void) | null;
};

/** How long one poll of the inotify descriptor waits, ms: bounds how long a thrown-away watch keeps a thread. */
const POLL_MS = 1000;

let batch: { kind: string; paths: string[] }[] = [];
let flushing = false;

function flush(): void {
  flushing = false;
  const events = batch;
  batch = [];
  port.postMessage({ type: "events", events });
}

function push(kind: string, paths: string[]): void {
  batch.push({ kind, paths });
  // Events that arrive in one turn go out in one message.
  if (!flushing) {
    flushing = true;
    setTimeout(flush, 0);
  }
}

async function watchInotify(root: string): Promise<boolean> {
  const tree = openInotify(root);
  if (!tree) return false;
  port.postMessage({ type: "ready", backend: "inotify", fd: tree.fd });
  try {
    for (;;) {
      const events = await tree.next(POLL_MS);
      for (const event of events) push(event.kind, [event.path]);
    }
  } catch (error) {
    port.postMessage({ type: "error", message: String(error) });
  }
  return true;
}

async function watchDeno(root: string): Promise<void> {
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(root, { recursive: true });
  } catch (error) {
    port.postMessage({ type: "error", message: String(error) });
    return;
  }
  port.postMessage({ type: "ready", backend: "watchFs" });
  try {
    for await (const event of watcher) push(event.kind, event.paths);
    port.postMessage({ type: "error", message: "the event stream ended" });
  } catch (error) {
    port.postMessage({ type: "error", message: String(error) });
  }
}

port.onmessage = (event) => {
  port.onmessage = null;
  const { root, watchFsOnly } = event.data;
  if (watchFsOnly) void watchDeno(root);
  else void watchInotify(root).then((done) => done ? undefined : watchDeno(root));
};
