/**
 * Keeps FIFOs under CorefileDir from freezing file-system events.
 *
 * `Deno.watchFs` compares every event's path with the watched root by
 * opening it (`same_file::is_same_file` in Deno's `fs_events.rs`), read-only
 * and blocking. Opening a FIFO read-only blocks until a writer appears, so
 * one `mkfifo` in a pod's dump directory would stop every later event on
 * the node, and make closing the watch hang. Holding each FIFO open for
 * writing (non-blocking, never written) means such an open always finds a
 * writer and returns at once. A FIFO is released only once it is gone:
 * releasing a live one is a close-after-write event, which would block the
 * event thread again, and that thread lives as long as the process.
 *
 * @module
 */

import fs from "node:fs";

/** FIFOs held at most; beyond this, rescans still find every core. */
const MAX_HELD_FIFOS = 1024;

/** Holds a writer open on each FIFO found under CorefileDir. */
export class FifoGuard {
  #held = new Map<string, { fd: number; ino: number }>();

  /** Holds `path` (a FIFO just seen by `lstat` with inode `ino`). Returns false when the cap is reached. */
  hold(path: string, ino: number): boolean {
    const current = this.#held.get(path);
    if (current?.ino === ino) return true;
    if (current) this.#close(path);
    if (this.#held.size >= MAX_HELD_FIFOS) return false;
    try {
      // O_RDWR on a FIFO never blocks on Linux; O_NOFOLLOW refuses a
      // symlink swapped in since the lstat.
      const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
      const opened = fs.fstatSync(fd);
      if (opened.ino !== ino || !opened.isFIFO()) {
        fs.closeSync(fd);
        return true;
      }
      this.#held.set(path, { fd, ino });
    } catch {
      // Gone or replaced: nothing to hold.
    }
    return true;
  }

  /** Releases FIFOs that no longer exist at their path. */
  prune(): void {
    for (const [path, { ino }] of this.#held) {
      try {
        const stat = fs.lstatSync(path);
        if (stat.ino === ino && stat.isFIFO()) continue;
      } catch {
        // gone
      }
      this.#close(path);
    }
  }

  #close(path: string): void {
    const held = this.#held.get(path);
    this.#held.delete(path);
    if (held) {
      try {
        fs.closeSync(held.fd);
      } catch {
        // already closed
      }
    }
  }
}
