/**
 * Finds every file under the dump root.
 *
 * File-system events (`Deno.watchFs`) are only hints: they are dropped
 * silently when the consumer is slow, files created in a brand-new
 * directory before its watch exists are never reported, and the event
 * stream goes quiet forever if the root is removed. So discovery also
 * sweeps the whole tree at start, walks every new directory it hears of,
 * rescans periodically, and rebuilds the watch when the root is replaced.
 * The event loop itself only records paths and never awaits.
 *
 * A canary file at the root is touched every second; when its event does
 * not come back, the event stream is stalled (a FIFO, see `fifo_guard.ts`,
 * or a lost watch) and a rescan runs at once, which holds any FIFO it
 * finds. When that does not free the stream (the FIFO was removed while
 * Deno's event thread waited on it), the watch is thrown away and started
 * again (see `fs_events.ts`), a bounded number of times.
 *
 * @module
 */

import fs from "node:fs";
import { join } from "node:path";
import { directoryDepth } from "../core/dump_path.ts";
import type { Logger } from "../log.ts";
import { FifoGuard } from "./fifo_guard.ts";
import { type FileEventStream, watchFileEvents } from "./fs_events.ts";

/** Directories deeper than this below the root are not scanned. */
const MAX_DEPTH = 8;
/** What a directory looked like when it was last read. */
interface DirMemo {
  mtimeMs: number;
  ctimeMs: number;
  subdirs: string[];
}

/** Every how many scans every directory is read again, memo or not. */
const FULL_SCAN_EVERY = 10;
/** A directory changed this recently is read again whatever its memo says, ms. */
const RECENT_MS = 2000;
/** Directory entries handled between two yields to the event loop during a walk. */
const WALK_CHUNK = 2000;
/** How often the root's presence and the event stream are checked, ms. */
const CHECK_MS = 1000;
/**
 * Times a stalled watch is replaced. Each replacement leaves a thread
 * blocked for good (nothing can wake it), so the count is bounded; past
 * it, rescans alone find cores.
 */
const MAX_WATCH_RESTARTS = 16;
/** Name of the canary file at the root; never a core (no namespace starts with a dot). */
const CANARY_NAME = ".coredog-watch-canary";

/** Options of {@linkcode Discovery}. */
export interface DiscoveryOptions {
  root: string;
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

/** Watches the dump root. */
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
  /** What each directory looked like when last read, to skip reading it again when unchanged. */
  #dirs = new Map<string, DirMemo>();
  #scans = 0;
  #canary: string;
  #canarySeen = true;
  #stalled = false;
  /** Checks in a row that found the canary's event missing, since the last restart of the watch. */
  #stalledChecks = 0;
  #watchRestarts = 0;
  #checking = false;

  constructor(options: DiscoveryOptions) {
    this.#options = options;
    this.#canary = join(options.root, CANARY_NAME);
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
      this.#scanning = this.#walk(this.#options.root, reuse)
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
    const stream = watchFileEvents(this.#options.root, {
      onEvent: (kind, paths) => {
        const closed = kind === "access";
        for (const path of paths) {
          if (path === this.#canary) {
            this.#canarySeen = true;
            continue;
          }
          this.#hints.set(path, closed || (this.#hints.get(path) ?? false));
        }
        this.#drainSoon();
      },
      onError: (message) => {
        if (this.#stopped || this.#watcher !== stream) return;
        this.#options.logger.warn(started ? "file event stream ended" : "file events unavailable; relying on rescans", {
          root: this.#options.root,
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
      await this.#walk(path, false);
    } else {
      this.#file(path, stat, closed);
    }
  }

  #file(path: string, stat: fs.Stats, closed: boolean): void {
    if (stat.isFIFO() && !this.#fifos.hold(path, stat.ino)) {
      this.#logOnce("fifo-cap", "too many FIFOs under the dump root; file events may stall until they are removed", {
        path,
      });
    }
    this.#options.onFile(path, stat, closed);
  }

  /**
   * Walks `top` with synchronous calls, yielding to the event loop every
   * {@linkcode WALK_CHUNK} entries: Deno's async file ops cost tens of
   * microseconds each, which made a rescan of 10,000 pod directories cost
   * seconds of CPU; in chunks, the same walk takes a few milliseconds at a
   * time and uploads and events keep flowing in between.
   *
   * With `reuse`, a directory whose mtime and ctime are unchanged since it
   * was last read (and not from the last {@linkcode RECENT_MS}, where
   * coarse timestamps could hide a change) is not read again: adding or
   * removing an entry changes both, and files already known are watched by
   * the scheduler itself.
   */
  async #walk(top: string, reuse: boolean): Promise<void> {
    const whole = top === this.#options.root;
    const visited = new Set<string>();
    const stack: [string, number][] = [[top, directoryDepth(this.#options.root, top)]];
    let sinceYield = 0;
    while (stack.length > 0 && !this.#stopped) {
      const [dir, depth] = stack.pop()!;
      if (this.#isExcluded(dir)) continue;
      if (depth > MAX_DEPTH) {
        this.#logOnce(`deep:${dir}`, "directory nested too deep; not scanned", { path: dir, max_depth: MAX_DEPTH });
        continue;
      }
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(dir);
      } catch {
        continue;
      }
      if (!stat.isDirectory()) continue;
      visited.add(dir);
      this.#fixMode(dir, depth, stat);
      const memo = this.#dirs.get(dir);
      if (
        reuse && memo && memo.mtimeMs === stat.mtimeMs && memo.ctimeMs === stat.ctimeMs &&
        Date.now() - stat.mtimeMs > RECENT_MS
      ) {
        for (const sub of memo.subdirs) stack.push([sub, depth + 1]);
        sinceYield++;
      } else {
        const read = this.#readDir(dir, depth, stack);
        if (read === undefined) continue;
        this.#dirs.set(dir, { mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, subdirs: read.subdirs });
        sinceYield += 1 + read.entries;
      }
      if (sinceYield >= WALK_CHUNK) {
        sinceYield = 0;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    if (whole && !this.#stopped) {
      for (const dir of this.#dirs.keys()) if (!visited.has(dir)) this.#dirs.delete(dir);
    }
  }

  /** Lists `dir`: subdirectories go on the stack, everything else to the scheduler. */
  #readDir(dir: string, depth: number, stack: [string, number][]): { subdirs: string[]; entries: number } | undefined {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        this.#logOnce(`readdir:${dir}`, "cannot list directory", { path: dir, error: String(error) });
      }
      return undefined;
    }
    const subdirs: string[] = [];
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        subdirs.push(path);
        stack.push([path, depth + 1]);
        continue;
      }
      if (path === this.#canary) continue;
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(path);
      } catch {
        // Deno turns bytes that are not UTF-8 into U+FFFD, so such a name can
        // be listed but never opened again; say so rather than skip silently.
        if (entry.name.includes("\uFFFD")) this.#options.onRefused(path, "name is not valid UTF-8");
        continue;
      }
      this.#file(path, stat, false);
    }
    return { subdirs, entries: entries.length };
  }

  /**
   * Namespace, pod and container directories get `DirMode` (1733 by
   * default) so that apps running as any user can write their cores; the
   * kubelet creates them owned by root with the root's mode.
   */
  #fixMode(dir: string, depth: number, stat: fs.Stats): void {
    const mode = this.#options.dirMode;
    if (mode === undefined || depth === 0 || depth > 3 || (stat.mode & 0o7777) === mode) return;
    try {
      fs.chmodSync(dir, mode);
    } catch (error) {
      this.#logOnce(`chmod:${dir}`, "cannot set directory mode; non-root apps may not be able to write cores", {
        path: dir,
        mode: mode.toString(8),
        error: String(error),
      });
    }
  }

  async #ensureRoot(): Promise<void> {
    const root = this.#options.root;
    await fs.promises.mkdir(root, { recursive: true });
    this.#rootIno = (await fs.promises.stat(root)).ino;
  }

  async #checkRoot(): Promise<void> {
    if (this.#stopped) return;
    let ino: number | undefined;
    try {
      ino = (await fs.promises.stat(this.#options.root)).ino;
    } catch {
      ino = undefined;
    }
    if (ino !== undefined && ino === this.#rootIno) {
      await this.#checkEvents();
      return;
    }
    this.#options.logger.warn("dump root was removed or replaced; rebuilding the watch", { root: this.#options.root });
    this.#closeWatch();
    try {
      await this.#ensureRoot();
    } catch (error) {
      this.#options.logger.error("cannot recreate the dump root", { root: this.#options.root, error: String(error) });
      return;
    }
    await this.#watch();
    await this.scan();
  }

  /**
   * Touches the canary. When the previous touch produced no event, the
   * first time a rescan holds any FIFO that blocks the event thread; the
   * second time the watch is replaced.
   */
  async #checkEvents(): Promise<void> {
    if (!this.#watcher || this.#checking) return;
    this.#checking = true;
    try {
      await this.#reactToCanary();
    } finally {
      this.#checking = false;
    }
    if (this.#stopped) return;
    this.#canarySeen = false;
    try {
      const now = new Date();
      await fs.promises.utimes(this.#canary, now, now).catch(async (error) => {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        await fs.promises.writeFile(this.#canary, "");
      });
    } catch (error) {
      this.#canarySeen = true;
      this.#logOnce("canary", "cannot touch the watch canary; stalls are caught by rescans only", {
        path: this.#canary,
        error: String(error),
      });
    }
  }

  async #reactToCanary(): Promise<void> {
    const root = this.#options.root;
    if (this.#canarySeen) {
      if (this.#stalled) this.#options.logger.info("file events flowing again", { root });
      this.#stalled = false;
      this.#stalledChecks = 0;
      return;
    }
    if (!this.#stalled) this.#options.logger.warn("file events stalled; rescanning the dump root", { root });
    this.#stalled = true;
    this.#stalledChecks++;
    if (this.#stalledChecks === 1) {
      await this.scan();
      return;
    }
    if (this.#stalledChecks !== 2) return;
    if (this.#watchRestarts >= MAX_WATCH_RESTARTS) {
      this.#logOnce("watch-restarts", "file events stay stalled; cores are found by rescans only", {
        root,
        rescan_seconds: this.#options.rescanMs / 1000,
        restarts: this.#watchRestarts,
        fix: "restart the watcher pod to get instant detection back",
      });
      return;
    }
    this.#watchRestarts++;
    this.#options.logger.warn("file events still stalled; restarting the file watch", {
      root,
      reason: "a FIFO removed while the event thread waited on it, or a lost watch",
      restart: this.#watchRestarts,
      max: MAX_WATCH_RESTARTS,
    });
    this.#closeWatch();
    await this.#watch();
    this.#stalledChecks = 0;
    await this.scan();
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
