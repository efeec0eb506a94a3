/**
 * Worker side of {@linkcode watchFileEvents}: runs `Deno.watchFs` on the
 * root it is given and posts the events in batches.
 *
 * It lives in a worker because Deno's event thread can block for good (see
 * `fs_events.ts`); a watch in the main isolate could then neither be closed
 * nor replaced without freezing the watcher.
 *
 * @module
 */

import type { FileEventMessage } from "./fs_events.ts";

const port = globalThis as unknown as {
  postMessage(message: FileEventMessage): void;
  onmessage: ((event: MessageEvent<{ root: string }>) => void) | null;
};

let batch: { kind: string; paths: string[] }[] = [];
let flushing = false;

function flush(): void {
  flushing = false;
  const events = batch;
  batch = [];
  port.postMessage({ type: "events", events });
}

async function watch(root: string): Promise<void> {
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(root, { recursive: true });
  } catch (error) {
    port.postMessage({ type: "error", message: String(error) });
    return;
  }
  port.postMessage({ type: "ready" });
  try {
    for await (const event of watcher) {
      batch.push({ kind: event.kind, paths: event.paths });
      // Events that arrive in one turn go out in one message.
      if (!flushing) {
        flushing = true;
        setTimeout(flush, 0);
      }
    }
    port.postMessage({ type: "error", message: "the event stream ended" });
  } catch (error) {
    port.postMessage({ type: "error", message: String(error) });
  }
}

port.onmessage = (event) => {
  port.onmessage = null;
  void watch(event.data.root);
};
