/**
 * Finds every file under CorefileDir.
 *
 * File-system events (`Deno.watchFs`, run by `fs_events.ts`) are only
 * hints: they are dropped silently when the consumer is slow, files
 * created in a brand-new directory before its watch exists are never
 * reported, and the event stream goes quiet forever if the root is
 * removed. So discovery also sweeps the whole tree at start
 * (`tree_walk.ts`), walks every new directory it hears of, rescans
 * periodically, and rebuilds the watch when the root is replaced. The
 * event loop itself only records paths and never awaits.
 *
 * A stalled event stream is noticed by a canary (`event_canary.ts`): a
 * rescan runs at once, which holds any FIFO it finds (`fifo_guard.ts`);
 * when that does not free the stream, the watch is thrown away and started
 * again. New namespace, pod and container directories get `DirMode`
 * (`dir_mode.ts`).
 *
 * @module
 */

import fs from "node:fs";
import type { Logger } from "../log.ts";
import { fixDirMode } from "./dir_mode.ts";
import { EventCanary } from "./event_canary.ts";
import { FifoGuard } from "./fifo_guard.ts";
import { type FileEventStream, watchFileEvents } from "./fs_events.ts";
import { FULL_SCAN_EVERY, TreeWalk } from "./tree_walk.ts";

/** How often the root's presence and the event stream are checked, ms. */
const CHECK_MS = 1000;

/** Options of {@linkcode Discovery}. */
export interface DiscoveryOptions {
  corefileDir: string;
  /** Absolute paths never scanned (the watcher's own state). */
  exclude: string[];
  rescanMs: number;
  /** Mode for new namespace, pod and container directories. */
  dirMode?: number;
  logger: Logger;
  /** A file (or anything that is not a directory) was seen. */
  onFile(path: string, stat: fs.Stats, closed: boolean): void;
  /** A path reported by an event no longer exists. */
  onGone(path: string): void;
  /** A file that cannot be read at all, with the reason. */
  onRefused(path: string, reason: string): void;
  /** A full scan finished (the first one makes the watcher ready). */
  onScanComplete?(): void;
}

/** Watches CorefileDir. */
export class Discovery {
  #options: DiscoveryOptions;
  #watcher: FileEventStream | undefined;
  #rootIno: number | undefined;
  #hints = new Map<string, boolean>();
  #draining = false;
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopped = false;
  #scanning: Promise<void> | undefined;
  #loggedOnce = new Set<string>();
  #fifos = new FifoGuard();
  #tree: TreeWalk;
  #scans = 0;
  #canary: EventCanary;
  #checking = false;

  constructor(options: DiscoveryOptions) {
    this.#options = options;
    const warnOnce = (key: string, msg: string, fields: Record<string, string | number>) =>
      this.#logOnce(key, msg, fields);
    this.#canary = new EventCanary({
      corefileDir: options.corefileDir,
      logger: options.logger,
      rescanMs: options.rescanMs,
      warnOnce,
    });
    this.#tree = new TreeWalk({
      corefileDir: options.corefileDir,
      isExcluded: (path) => path === this.#canary.path || this.#isExcluded(path),
      isStopped: () => this.#stopped,
      onDirectory: (dir, depth, stat) => this.#fixMode(dir, depth, stat),
      onFile: (path, stat) => this.#file(path, stat, false),
      onRefused: options.onRefused,
      warnOnce,
    });
  }

  /** Prepares the root, starts the watch and runs the first full scan. */
  async start(): Promise<void> {
    await this.#ensureRoot();
    await this.#watch();
    await this.#checkEvents();
    this.#timers.push(setInterval(() => this.#checkRoot(), CHECK_MS));
    this.#timers.push(setInterval(() => this.scan(), this.#options.rescanMs));
    await this.scan();
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#closeWatch();
    await this.#scanning;
    // FIFOs stay held: a watch thrown away may still have a thread waiting
    // on one, and releasing it would leave that thread blocked for good.
  }

  /** Walks the whole tree now (a rescan already running is joined). */
  scan(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (!this.#scanning) {
      // Every tenth scan reads every directory again, as insurance against anything the memo misses.
      const reuse = this.#scans++ % FULL_SCAN_EVERY !== 0;
      this.#scanning = this.#tree.walk(this.#options.corefileDir, reuse)
        .then(() => {
          this.#fifos.prune();
          this.#options.onScanComplete?.();
        })
        .catch((error) => this.#options.logger.error("scan failed", { error: String(error) }))
        .finally(() => this.#scanning = undefined);
    }
    return this.#scanning;
  }

  /** Starts the watch; resolves once events flow or the watch failed (rescans then find everything). */
  async #watch(): Promise<void> {
    let started = false;
    const stream = watchFileEvents(this.#options.corefileDir, {
      onEvent: (kind, paths) => {
        const closed = kind === "access";
        for (const path of paths) {
          if (path === this.#canary.path) {
            this.#canary.seen();
            continue;
          }
          this.#hints.set(path, closed || (this.#hints.get(path) ?? false));
        }
        this.#drainSoon();
      },
      onError: (message) => {
        if (this.#stopped || this.#watcher !== stream) return;
        this.#options.logger.warn(started ? "file event stream ended" : "file events unavailable; relying on rescans", {
          corefile_dir: this.#options.corefileDir,
          rescan_seconds: this.#options.rescanMs / 1000,
          error: message,
        });
      },
    });
    this.#watcher = stream;
    started = await stream.ready;
  }

  #closeWatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #drainSoon(): void {
    if (this.#draining) return;
    this.#draining = true;
    queueMicrotask(() => this.#drain().finally(() => this.#draining = false));
  }

  async #drain(): Promise<void> {
    while (this.#hints.size > 0 && !this.#stopped) {
      const batch = [...this.#hints];
      this.#hints.clear();
      for (const [path, closed] of batch) await this.#examine(path, closed);
    }
  }

  async #examine(path: string, closed: boolean): Promise<void> {
    if (this.#isExcluded(path)) return;
    let stat: fs.Stats;
    try {
      stat = await fs.promises.lstat(path);
    } catch {
      this.#options.onGone(path);
      return;
    }
    if (stat.isDirectory()) {
      await this.#tree.walk(path, false);
    } else {
      this.#file(path, stat, closed);
    }
  }

  #file(path: string, stat: fs.Stats, closed: boolean): void {
    if (stat.isFIFO() && !this.#fifos.hold(path, stat.ino)) {
      this.#logOnce("fifo-cap", "too many FIFOs under CorefileDir; file events may stall until they are removed", {
        path,
      });
    }
    this.#options.onFile(path, stat, closed);
  }

  #fixMode(dir: string, depth: number, stat: fs.Stats): void {
    const mode = this.#options.dirMode;
    const error = fixDirMode(dir, { depth, stat, mode });
    if (error) {
      this.#logOnce(`chmod:${dir}`, "cannot set directory mode; non-root apps may not be able to write cores", {
        path: dir,
        mode: mode!.toString(8),
        error: String(error),
      });
    }
  }

  async #ensureRoot(): Promise<void> {
    const corefileDir = this.#options.corefileDir;
    await fs.promises.mkdir(corefileDir, { recursive: true });
    this.#rootIno = (await fs.promises.stat(corefileDir)).ino;
  }

  async #checkRoot(): Promise<void> {
    if (this.#stopped) return;
    let ino: number | undefined;
    try {
      ino = (await fs.promises.stat(this.#options.corefileDir)).ino;
    } catch {
      ino = undefined;
    }
    if (ino !== undefined && ino === this.#rootIno) {
      await this.#checkEvents();
      return;
    }
    this.#options.logger.warn("CorefileDir was removed or replaced; rebuilding the watch", {
      corefile_dir: this.#options.corefileDir,
    });
    this.#closeWatch();
    try {
      await this.#ensureRoot();
    } catch (error) {
      this.#options.logger.error("cannot recreate CorefileDir", {
        corefile_dir: this.#options.corefileDir,
        error: String(error),
      });
      return;
    }
    await this.#watch();
    await this.scan();
  }

  /** Acts on what the canary says (rescan, or replace the watch), then touches it again. */
  async #checkEvents(): Promise<void> {
    if (!this.#watcher || this.#checking) return;
    this.#checking = true;
    try {
      const action = this.#canary.check();
      if (action === "rescan") {
        await this.scan();
      } else if (action === "restart") {
        this.#closeWatch();
        await this.#watch();
        this.#canary.restarted();
        await this.scan();
      }
    } finally {
      this.#checking = false;
    }
    if (this.#stopped) return;
    await this.#canary.touch();
  }

  #isExcluded(path: string): boolean {
    return this.#options.exclude.some((dir) => path === dir || path.startsWith(dir + "/"));
  }

  #logOnce(key: string, msg: string, fields: Record<string, string | number>): void {
    if (this.#loggedOnce.has(key)) return;
    this.#loggedOnce.add(key);
    this.#options.logger.warn(msg, fields);
  }
}
