/**
 * One channel's crash-loop digests in time: the tracker
 * (`core/crash_loop.ts`) decides which crashes fold, and this wakes up when
 * the earliest window ends to queue its digest. Windows follow the crashes
 * as they are published, not a queue held up by an outage.
 *
 * @module
 */

import {
  type CrashLoopDigest,
  type CrashLoopSettings,
  CrashLoopTracker,
  describeLoop,
  renderDigest,
} from "../core/crash_loop.ts";
import type { CrashRecord } from "../core/crash_record.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import type { ChannelQueue } from "./channel_queue.ts";
import type { Clock } from "./clock.ts";

/** Options of {@linkcode CrashLoopTimer}. */
export interface CrashLoopTimerOptions {
  clock: Clock;
  logger: Logger;
  /** Digests queued, and digests that could not be prepared. */
  metrics: { digests: Counter; failed: Counter };
  /** The channel's template, for the latest crash in a digest. */
  template: string;
}

/** Folds a channel's crash-loop repeats and queues their digests when windows end. */
export class CrashLoopTimer {
  #tracker: CrashLoopTracker;
  #queue: ChannelQueue;
  #options: CrashLoopTimerOptions;
  #timer?: AbortController;

  /** A timer for `queue`'s channel with `settings`. */
  constructor(settings: CrashLoopSettings, options: CrashLoopTimerOptions & { queue: ChannelQueue }) {
    this.#tracker = new CrashLoopTracker(settings);
    this.#queue = options.queue;
    this.#options = options;
  }

  /** `notify` when `record` gets a message of its own, `fold` when it waits for the digest. */
  observe(record: CrashRecord, now: number): "notify" | "fold" {
    const verdict = this.#tracker.observe(record, now);
    this.#queueDigests(this.#tracker.takeDue(now));
    this.#arm();
    return verdict;
  }

  /** At shutdown: stops the timer and queues the digests of every open window now. */
  flush(now: number): void {
    this.#timer?.abort();
    this.#timer = undefined;
    this.#queueDigests(this.#tracker.takeAll(now));
  }

  /** Wakes up when the earliest open window ends. New windows never end earlier, so one timer suffices. */
  #arm(): void {
    if (this.#timer) return;
    const due = this.#tracker.nextDueAt();
    if (due === undefined) return;
    const { clock } = this.#options;
    const timer = new AbortController();
    this.#timer = timer;
    clock.sleep(Math.max(0, due - clock.now()), timer.signal).then(() => {
      this.#timer = undefined;
      this.#queueDigests(this.#tracker.takeDue(clock.now()));
      this.#arm();
    }, () => {
      // Cancelled by flush().
    });
  }

  #queueDigests(digests: CrashLoopDigest[]): void {
    const { logger, metrics, template, clock } = this.#options;
    const channel = this.#queue.channel.notifier.name;
    for (const digest of digests) {
      const latest = digest.repeats[digest.repeats.length - 1];
      try {
        const text = renderDigest(digest, { template });
        metrics.digests.inc({ channel });
        logger.info("crash loop digest", { channel, loop: describeLoop(latest), crashes: digest.count });
        this.#queue.enqueue({ kind: "digest", text, record: latest, digest }, clock.now());
      } catch (error) {
        metrics.failed.inc({ channel });
        logger.error("cannot prepare the crash loop digest", { channel, error: (error as Error).message });
      }
    }
  }
}
