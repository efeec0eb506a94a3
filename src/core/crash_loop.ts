/**
 * Crash-loop digests: a container that keeps crashing the same way gets
 * one message at its first crash and one digest per window for the
 * repeats, instead of a message per crash that floods the channel (and
 * hits the chat API's rate limit, delaying messages about other crashes).
 *
 * Pure state driven by the caller's clock. Every core is still uploaded;
 * this only decides which crashes get a message of their own.
 *
 * @module
 */

import type { CrashRecord } from "./crash_record.ts";
import { renderTemplate } from "./template.ts";

/** Settings from the `CrashLoop` section. */
export interface CrashLoopSettings {
  /** False: every crash gets a message of its own. */
  enabled: boolean;
  /** Length of the window that folds repeats into one digest, ms. */
  windowMs: number;
}

/** Repeats summed up at the end of a window. */
export interface CrashLoopDigest {
  /** The loop's {@linkcode crashLoopKey}. */
  key: string;
  /** Crashes folded into this digest (the first crash of the loop, sent on its own, is not counted). */
  count: number;
  /** The latest folded crashes, oldest first; at most 50 of them (`count` has them all). */
  repeats: CrashRecord[];
  /** Start of the period the digest covers, ms. */
  periodStart: number;
  /** End of that period, ms (earlier than the window's end at shutdown). */
  periodEnd: number;
}

/** Records kept per digest, so that memory stays bounded while a loop runs. */
const MAX_KEPT = 50;

/** Download links a digest lists at most (the newest), so that it stays readable. */
const MAX_LINKS = 20;

interface Group {
  windowStart: number;
  windowEnd: number;
  count: number;
  repeats: CrashRecord[];
}

/**
 * What makes two crashes "the same": the workload (or, without one, the
 * namespace and pod), the container and the signal.
 */
export function crashLoopKey(record: CrashRecord): string {
  const owner = record.pod.workload
    ? `${record.pod.workload.kind}/${record.pod.workload.name}`
    : record.pod.name !== undefined
    ? `Pod/${record.pod.name}`
    : `exe/${record.process.executable ?? "-"}`;
  return JSON.stringify([
    record.pod.namespace ?? "-",
    owner,
    record.container.name ?? "-",
    record.process.signal ?? -1,
  ]);
}

/** Groups crashes by {@linkcode crashLoopKey} and decides which are sent at once. */
export class CrashLoopTracker {
  #settings: CrashLoopSettings;
  #groups = new Map<string, Group>();
  #ready: CrashLoopDigest[] = [];

  /** A tracker with `settings`; with `enabled: false` every crash is sent at once. */
  constructor(settings: CrashLoopSettings) {
    this.#settings = settings;
  }

  /**
   * Notes a crash seen at `now`: `notify` when it gets a message now,
   * `fold` when it goes into the digest at the end of its group's window.
   */
  observe(record: CrashRecord, now: number): "notify" | "fold" {
    if (!this.#settings.enabled) return "notify";
    // Windows that ended before this crash are settled first, so that it
    // starts a new loop instead of joining a finished one.
    this.#ready.push(...this.#collect(now, false));
    const key = crashLoopKey(record);
    const group = this.#groups.get(key);
    if (!group) {
      this.#groups.set(key, { windowStart: now, windowEnd: now + this.#settings.windowMs, count: 0, repeats: [] });
      return "notify";
    }
    group.count++;
    group.repeats.push(record);
    if (group.repeats.length > MAX_KEPT) group.repeats.shift();
    return "fold";
  }

  /**
   * Digests of the windows that ended by `now`. A window with repeats
   * starts another one, so a loop that goes on gets one digest per window;
   * a window without repeats ends the loop quietly.
   */
  takeDue(now: number): CrashLoopDigest[] {
    const due = [...this.#ready, ...this.#collect(now, false)];
    this.#ready = [];
    return due;
  }

  /** Digests of every open window, cut short at `now` (at shutdown); forgets every loop. */
  takeAll(now: number): CrashLoopDigest[] {
    const all = [...this.#ready, ...this.#collect(now, true)];
    this.#ready = [];
    this.#groups.clear();
    return all;
  }

  /** When the earliest open window ends, or undefined when none is open. */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const group of this.#groups.values()) {
      if (next === undefined || group.windowEnd < next) next = group.windowEnd;
    }
    return next;
  }

  /** Loops currently being watched. */
  get openLoops(): number {
    return this.#groups.size;
  }

  #collect(now: number, everything: boolean): CrashLoopDigest[] {
    const digests: CrashLoopDigest[] = [];
    for (const [key, group] of this.#groups) {
      if (!everything && group.windowEnd > now) continue;
      const periodEnd = everything ? Math.min(now, group.windowEnd) : group.windowEnd;
      if (group.count > 0) {
        digests.push({
          key,
          count: group.count,
          repeats: group.repeats,
          periodStart: group.windowStart,
          periodEnd,
        });
        // Windows follow each other without gaps, however late the caller is.
        const start = Math.max(group.windowEnd, now - this.#settings.windowMs);
        this.#groups.set(key, {
          windowStart: start,
          windowEnd: start + this.#settings.windowMs,
          count: 0,
          repeats: [],
        });
      } else {
        this.#groups.delete(key);
      }
    }
    return digests;
  }
}

/** Options of {@linkcode renderDigest}. */
export interface RenderDigestOptions {
  /** The channel's template, used for the latest crash. */
  template: string;
}

const LINK_LINE = "- {time} {pod.name} {corefile.filename}: {corefile.url}";

/**
 * The digest message: what crashed and how often ("crashed 14 more times
 * in the last 10 minutes"), the latest crash in the channel's own
 * template, then the download links, newest last. The count comes first
 * so that it survives when an API's size limit cuts the links.
 */
export function renderDigest(digest: CrashLoopDigest, options: RenderDigestOptions): string {
  const latest = digest.repeats[digest.repeats.length - 1];
  const shown = digest.repeats.slice(-MAX_LINKS);
  const times = digest.count === 1 ? "1 more time" : `${digest.count} more times`;
  const minutes = Math.max(1, Math.round((digest.periodEnd - digest.periodStart) / 60_000));
  const period = minutes === 1 ? "the last minute" : `the last ${minutes} minutes`;
  const listed = shown.length === digest.count
    ? `Cores of these ${shown.length === 1 ? "crash" : `${shown.length} crashes`}:`
    : `Cores of the latest ${shown.length} of these ${digest.count} crashes:`;
  return [
    `${describeLoop(latest)}: crashed ${times} in ${period}`,
    "Latest crash:",
    renderTemplate(options.template, latest),
    listed,
    ...shown.map((record) => renderTemplate(LINK_LINE, record)),
  ].join("\n");
}

/** `[team-a/Deployment/web] container app, SIGSEGV (11)`, with `unknown` for what is not known. */
export function describeLoop(record: CrashRecord): string {
  return renderTemplate(
    record.pod.workload
      ? "[{pod.namespace}/{workload}] container {container.name}, {signal}"
      : "[{pod.namespace}/{pod.name}] container {container.name}, {signal}",
    record,
  );
}
