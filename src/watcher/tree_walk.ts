/**
 * Walks CorefileDir (or one directory of it) and reports every entry
 * that is not a directory. Synchronous calls in chunks, a depth limit, and
 * a memo of each directory's timestamps so that a rescan reads only the
 * directories that changed.
 *
 * @module
 */

import fs from "node:fs";
import { join } from "node:path";
import { directoryDepth } from "../core/dump_path.ts";

/** Directories deeper than this below the root are not scanned. */
const MAX_DEPTH = 8;
/** Every how many scans every directory is read again, memo or not. */
export const FULL_SCAN_EVERY = 10;
/** A directory changed this recently is read again whatever its memo says, ms. */
const RECENT_MS = 2000;
/** Directory entries handled between two yields to the event loop during a walk. */
const WALK_CHUNK = 2000;

/** What a directory looked like when it was last read. */
interface DirMemo {
  mtimeMs: number;
  ctimeMs: number;
  subdirs: string[];
}

/** Options of {@linkcode TreeWalk}. */
export interface TreeWalkOptions {
  corefileDir: string;
  /** Paths never walked or reported (the watcher's own state, the watch canary). */
  isExcluded(path: string): boolean;
  /** True once the walk should end early (the watcher is stopping). */
  isStopped(): boolean;
  /** A directory about to be read, `depth` below the root (namespace 1, pod 2, container 3). */
  onDirectory(dir: string, depth: number, stat: fs.Stats): void;
  /** Anything that is not a directory, with what `lstat` said. */
  onFile(path: string, stat: fs.Stats): void;
  /** A listed entry that cannot be opened at all, with the reason. */
  onRefused(path: string, reason: string): void;
  /** A problem worth one log line per `key`. */
  warnOnce(key: string, msg: string, fields: Record<string, string | number>): void;
}

/** Walks the tree; remembers what each directory looked like. */
export class TreeWalk {
  #options: TreeWalkOptions;
  /** What each directory looked like when last read, to skip reading it again when unchanged. */
  #dirs = new Map<string, DirMemo>();

  constructor(options: TreeWalkOptions) {
    this.#options = options;
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
  async walk(top: string, reuse: boolean): Promise<void> {
    const { corefileDir } = this.#options;
    const whole = top === corefileDir;
    const visited = new Set<string>();
    const stack: [string, number][] = [[top, directoryDepth(corefileDir, top)]];
    let sinceYield = 0;
    while (stack.length > 0 && !this.#options.isStopped()) {
      const [dir, depth] = stack.pop()!;
      if (this.#options.isExcluded(dir)) continue;
      if (depth > MAX_DEPTH) {
        this.#options.warnOnce(`deep:${dir}`, "directory nested too deep; not scanned", {
          path: dir,
          max_depth: MAX_DEPTH,
        });
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
      this.#options.onDirectory(dir, depth, stat);
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
    if (whole && !this.#options.isStopped()) {
      for (const dir of this.#dirs.keys()) if (!visited.has(dir)) this.#dirs.delete(dir);
    }
  }

  /** Lists `dir`: subdirectories go on the stack, everything else to `onFile`. */
  #readDir(dir: string, depth: number, stack: [string, number][]): { subdirs: string[]; entries: number } | undefined {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        this.#options.warnOnce(`readdir:${dir}`, "cannot list directory", { path: dir, error: String(error) });
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
      if (this.#options.isExcluded(path)) continue;
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(path);
      } catch {
        // Deno turns bytes that are not UTF-8 into U+FFFD, so such a name can
        // be listed but never opened again; say so rather than skip silently.
        if (entry.name.includes("\uFFFD")) this.#options.onRefused(path, "name is not valid UTF-8");
        continue;
      }
      this.#options.onFile(path, stat);
    }
    return { subdirs, entries: entries.length };
  }
}
