/**
 * Tracks every candidate file from first sight to upload: waits until it
 * is complete, runs the pipeline on it with bounded concurrency, and
 * retries failures with backoff for as long as the file exists.
 *
 * `observe` is synchronous and cheap, so the file-event loop that calls it
 * never waits; all I/O happens in the tick and the workers.
 *
 * @module
 */

import type fs from "node:fs";
import { lstat } from "node:fs/promises";
import { retryDelayMs } from "../core/backoff.ts";
import {
  assessReadiness,
  type CandidateState,
  markClosed,
  observe,
  type ReadinessSettings,
} from "../core/readiness.ts";
import type { Logger } from "../log.ts";
import type { LocalCore } from "../core/disk_policy.ts";
import type { PipelineOutcome, ReadyFile } from "./pipeline.ts";
import { type FileIdentity, refusalReason } from "./safe_file.ts";
import type { WatcherMetrics } from "./watcher_metrics.ts";

/** How often waiting files are looked at again, ms. */
const TICK_MS = 100;

type Status = "waiting" | "queued" | "running" | "retry" | "done" | "refused";

interface Entry {
  path: string;
  dev: number;
  ino: number;
  /** Bytes allocated on disk (cores are sparse). */
  diskBytes: number;
  state: CandidateState;
  status: Status;
  attempts: number;
  retryAt: number;
  truncatedByTimeout: boolean;
}

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  readiness: ReadinessSettings;
  concurrency: number;
  retryMaxMs: number;
  process: (file: ReadyFile) => Promise<PipelineOutcome>;
  logger: Logger;
  metrics: WatcherMetrics;
}

/** Decides when each candidate is processed. */
export class Scheduler {
  #options: SchedulerOptions;
  #entries = new Map<string, Entry>();
  #queue: Entry[] = [];
  #running = new Set<Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending tick is due (watcher clock, ms). */
  #timerDue = 0;
  #ticking = false;
  #stopped = false;
  #refusalsLogged = new Set<string>();

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  /** Notes what `lstat` said about `path`; `closed` when a close-after-write event was seen. */
  observe(path: string, stat: fs.Stats, closed: boolean): void {
    if (this.#stopped) return;
    const now = Date.now();
    const refused = refusalReason(stat);
    if (refused) {
      this.#refuse(path, stat.ino, refused);
      return;
    }
    let entry = this.#entries.get(path);
    if (entry && (entry.dev !== stat.dev || entry.ino !== stat.ino)) entry = undefined;
    if (!entry) {
      entry = {
        path,
        dev: stat.dev,
        ino: stat.ino,
        diskBytes: stat.blocks * 512,
        state: observe(undefined, stat, now),
        status: "waiting",
        attempts: 0,
        retryAt: 0,
        truncatedByTimeout: false,
      };
      this.#entries.set(path, entry);
      this.#options.metrics.coresSeen.inc();
    } else {
      const next = observe(entry.state, stat, now);
      if (next !== entry.state && (entry.status === "done" || entry.status === "refused")) {
        // A kept core that was rewritten is a new core.
        entry.status = "waiting";
        entry.attempts = 0;
      }
      entry.state = next;
      entry.diskBytes = stat.blocks * 512;
    }
    if (closed) entry.state = markClosed(entry.state, now);
    // A closed core is looked at again as soon as its settle time is over, not on the next tick.
    this.#schedule(closed ? Math.min(TICK_MS, this.#options.readiness.settleMs + 1) : TICK_MS);
  }

  /** Refuses a file that discovery cannot read (logged once, like the others). */
  refuse(path: string, reason: string): void {
    this.#refuse(path, 0, reason);
  }

  /** Forgets a path that no longer exists. */
  forget(path: string): void {
    const entry = this.#entries.get(path);
    if (entry && (entry.status === "waiting" || entry.status === "retry" || entry.status === "done")) {
      this.#entries.delete(path);
    }
  }

  /** The cores on the node as the disk guard sees them. */
  localCores(): (LocalCore & FileIdentity & { size: number })[] {
    const cores: (LocalCore & FileIdentity & { size: number })[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.status === "refused") continue;
      cores.push({
        path: entry.path,
        dev: entry.dev,
        ino: entry.ino,
        size: entry.state.size,
        diskBytes: entry.diskBytes,
        mtimeMs: entry.state.mtimeMs,
        stored: entry.status === "done",
        busy: entry.status === "running",
      });
    }
    return cores;
  }

  /**
   * Takes `path` out of the scheduler's hands (for the disk guard to delete
   * it); false when it is being processed or unknown.
   */
  claim(path: string): boolean {
    const entry = this.#entries.get(path);
    if (!entry || entry.status === "running" || entry.status === "refused") return false;
    this.#queue = this.#queue.filter((queued) => queued !== entry);
    this.#entries.delete(path);
    this.#updateQueueDepth();
    return true;
  }

  /** Number of files not yet processed (waiting, queued, running or retrying). */
  pending(): number {
    let count = 0;
    for (const entry of this.#entries.values()) {
      if (entry.status !== "done" && entry.status !== "refused") count++;
    }
    return count;
  }

  /** Stops taking new work and waits for running work to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#queue = [];
    await Promise.allSettled([...this.#running]);
  }

  #refuse(path: string, ino: number, reason: string): void {
    const key = `${path}\0${ino}\0${reason}`;
    const entry = this.#entries.get(path);
    if (entry) entry.status = "refused";
    if (this.#refusalsLogged.has(key)) return;
    this.#refusalsLogged.add(key);
    this.#options.metrics.refused.inc({ reason });
    this.#options.logger.warn(`refused file: ${reason}; left untouched`, { path, reason });
  }

  #schedule(delayMs = TICK_MS): void {
    if (this.#stopped) return;
    const due = Date.now() + delayMs;
    if (this.#timer !== undefined) {
      if (this.#timerDue <= due) return;
      clearTimeout(this.#timer);
    }
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tick().catch((error) => this.#options.logger.error("scheduler tick failed", { error: String(error) }));
    }, delayMs);
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const now = Date.now();
      for (const entry of [...this.#entries.values()]) {
        if (entry.status === "waiting") await this.#recheck(entry, now);
        else if (entry.status === "retry" && now >= entry.retryAt) await this.#recheck(entry, now);
      }
      this.#pump();
    } finally {
      this.#ticking = false;
      this.#updateQueueDepth();
      if (this.pending() > this.#running.size + this.#queue.length) this.#schedule();
    }
  }

  async #recheck(entry: Entry, now: number): Promise<void> {
    let stat: fs.Stats;
    try {
      stat = await lstat(entry.path);
    } catch {
      this.#entries.delete(entry.path);
      return;
    }
    if (stat.dev !== entry.dev || stat.ino !== entry.ino) {
      this.#entries.delete(entry.path);
      this.observe(entry.path, stat, false);
      return;
    }
    entry.state = observe(entry.state, stat, now);
    if (entry.status === "retry") {
      entry.status = "queued";
      this.#queue.push(entry);
      return;
    }
    const verdict = assessReadiness(entry.state, now, this.#options.readiness);
    if (!verdict.ready) return;
    entry.truncatedByTimeout = verdict.truncated;
    entry.status = "queued";
    this.#queue.push(entry);
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#options.concurrency && this.#queue.length > 0) {
      const entry = this.#queue.shift()!;
      const run = this.#run(entry).finally(() => {
        this.#running.delete(run);
        this.#pump();
        this.#updateQueueDepth();
      });
      this.#running.add(run);
    }
  }

  async #run(entry: Entry): Promise<void> {
    entry.status = "running";
    entry.attempts++;
    const file: ReadyFile = {
      path: entry.path,
      dev: entry.dev,
      ino: entry.ino,
      size: entry.state.size,
      mtimeMs: entry.state.mtimeMs,
      truncatedByTimeout: entry.truncatedByTimeout,
      attempt: entry.attempts,
    };
    let outcome: PipelineOutcome;
    try {
      outcome = await this.#options.process(file);
    } catch (error) {
      const delay = retryDelayMs(entry.attempts, { maxMs: this.#options.retryMaxMs });
      entry.status = "retry";
      entry.retryAt = Date.now() + delay;
      this.#options.metrics.uploadFailures.inc();
      this.#options.logger.error("could not store core; the file is kept and will be retried", {
        path: entry.path,
        attempt: entry.attempts,
        retry_in_seconds: (delay / 1000).toFixed(1),
        error: (error as Error).message,
      });
      this.#schedule();
      return;
    }
    switch (outcome.kind) {
      case "done":
        entry.status = "done";
        try {
          await lstat(entry.path);
        } catch {
          this.#entries.delete(entry.path);
        }
        break;
      case "short":
        entry.state = { ...entry.state, expectedBytes: outcome.expectedBytes };
        entry.status = "waiting";
        entry.attempts--;
        this.#schedule();
        break;
      case "changed":
        entry.status = "waiting";
        entry.attempts--;
        this.#schedule();
        break;
      case "refused":
        this.#refuse(entry.path, entry.ino, outcome.reason);
        break;
      case "gone":
        this.#entries.delete(entry.path);
        break;
    }
  }

  #updateQueueDepth(): void {
    let depth = 0;
    for (const entry of this.#entries.values()) {
      if (entry.status === "queued" || entry.status === "retry" || entry.status === "running") depth++;
    }
    this.#options.metrics.queueDepth.set(depth);
  }
}
