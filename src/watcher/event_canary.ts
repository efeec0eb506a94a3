/**
 * Tells whether file events still flow. A canary file at CorefileDir is
 * touched every check; when its event has not come back by the next check,
 * the event stream is stalled (a FIFO, see `fifo_guard.ts`, or a lost
 * watch). The first stalled check asks for a rescan, which holds any FIFO
 * it finds; the second asks for the watch to be replaced (the FIFO was
 * removed while Deno's event thread waited on it), a bounded number of
 * times.
 *
 * @module
 */

import fs from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";

/** Name of the canary file at the root; never a core (no namespace starts with a dot). */
const CANARY_NAME = ".coredog-watch-canary";
/**
 * Times a stalled watch is replaced. Each replacement leaves a thread
 * blocked for good (nothing can wake it), so the count is bounded; past
 * it, rescans alone find cores.
 */
const MAX_WATCH_RESTARTS = 16;

/** What the watcher should do after a check: nothing, rescan now, or replace the watch and rescan. */
export type StallAction = "none" | "rescan" | "restart";

/** Options of {@linkcode EventCanary}. */
export interface EventCanaryOptions {
  corefileDir: string;
  logger: Logger;
  /** Rescan interval, ms, for the log lines that say rescans still find cores. */
  rescanMs: number;
  /** A problem worth one log line per `key`. */
  warnOnce(key: string, msg: string, fields: Record<string, string | number>): void;
}

/** The canary and what its events said so far. */
export class EventCanary {
  /** The canary file's path. */
  readonly path: string;
  #options: EventCanaryOptions;
  #seen = true;
  #stalled = false;
  /** Checks in a row that found the canary's event missing, since the last restart of the watch. */
  #stalledChecks = 0;
  #restarts = 0;

  constructor(options: EventCanaryOptions) {
    this.#options = options;
    this.path = join(options.corefileDir, CANARY_NAME);
  }

  /** The canary's event arrived. */
  seen(): void {
    this.#seen = true;
  }

  /** Whether the event of the last touch arrived, logged, and what to do about it. */
  check(): StallAction {
    const { corefileDir, logger, rescanMs } = this.#options;
    if (this.#seen) {
      if (this.#stalled) logger.info("file events flowing again", { corefile_dir: corefileDir });
      this.#stalled = false;
      this.#stalledChecks = 0;
      return "none";
    }
    if (!this.#stalled) logger.warn("file events stalled; rescanning CorefileDir", { corefile_dir: corefileDir });
    this.#stalled = true;
    this.#stalledChecks++;
    if (this.#stalledChecks === 1) return "rescan";
    if (this.#stalledChecks !== 2) return "none";
    if (this.#restarts >= MAX_WATCH_RESTARTS) {
      this.#options.warnOnce("watch-restarts", "file events stay stalled; cores are found by rescans only", {
        corefile_dir: corefileDir,
        rescan_seconds: rescanMs / 1000,
        restarts: this.#restarts,
        fix: "restart the watcher pod to get instant detection back",
      });
      return "none";
    }
    this.#restarts++;
    logger.warn("file events still stalled; restarting the file watch", {
      corefile_dir: corefileDir,
      reason: "a FIFO removed while the event thread waited on it, or a lost watch",
      restart: this.#restarts,
      max: MAX_WATCH_RESTARTS,
    });
    return "restart";
  }

  /** The watch was replaced: the next missing event starts the count again. */
  restarted(): void {
    this.#stalledChecks = 0;
  }

  /** Touches the canary (creating it when missing), expecting its event by the next check. */
  async touch(): Promise<void> {
    this.#seen = false;
    try {
      const now = new Date();
      await fs.promises.utimes(this.path, now, now).catch(async (error) => {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        await fs.promises.writeFile(this.path, "");
      });
    } catch (error) {
      this.#seen = true;
      this.#options.warnOnce("canary", "cannot touch the watch canary; stalls are caught by rescans only", {
        path: this.path,
        error: String(error),
      });
    }
  }
}
