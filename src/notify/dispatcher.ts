/**
 * Hands crash records to the channels without ever holding up the
 * pipeline: `publish` renders, filters and queues, and each channel drains
 * its own queue.
 *
 * Per channel, in `publish`: the filter (`channel_filter.ts`: keyword,
 * namespaces, labels), then the crash-loop timer (`crash_loop_timer.ts`:
 * the first crash of a loop is queued at once, repeats wait for the digest
 * at the end of the window), then the queue (`channel_queue.ts`).
 *
 * @module
 */

import type { CrashRecord } from "../core/crash_record.ts";
import { describeLoop } from "../core/crash_loop.ts";
import { DEFAULT_TEMPLATE, renderTemplate } from "../core/template.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import { channelRefusal } from "./channel_filter.ts";
import { ChannelQueue, waitIdle } from "./channel_queue.ts";
import type { Channel } from "./channels.ts";
import { type Clock, systemClock } from "./clock.ts";
import { CrashLoopTimer } from "./crash_loop_timer.ts";

/** Counters the dispatcher keeps (all labelled by `channel`). */
export interface DispatcherMetrics {
  /** Messages a channel accepted. */
  sent: Counter;
  /** Messages given up (refused, or still failing at the give-up time). */
  failed: Counter;
  /** Messages skipped by the channel's keyword, namespaces or labels. */
  filtered: Counter;
  /** Crashes folded into a crash-loop digest instead of a message of their own. */
  folded: Counter;
  /** Attempts that failed and were retried. */
  retried: Counter;
  /** Crash-loop digests queued. */
  digests: Counter;
}

/** Options of {@linkcode createDispatcher}. */
export interface DispatcherOptions {
  /** `messageTemplate`; empty means the built-in template. */
  template: string;
  /** Receives retries, failures and digests. */
  logger: Logger;
  /** Counters by channel. */
  metrics: DispatcherMetrics;
  /** The real clock by default; tests pass a simulated one. */
  clock?: Clock;
  /** Jitter source for retry backoff, `Math.random` by default. */
  random?: () => number;
}

/** Queues notifications per channel. */
export interface Dispatcher {
  /**
   * Queues `record` for every channel and returns at once, never throwing.
   * The promise resolves (never rejects) once every channel is done with
   * the message: true when each delivered, gave up, filtered or folded it,
   * false when shutdown interrupted a delivery (send it again after the
   * restart).
   */
  publish(record: CrashRecord): Promise<boolean>;
  /**
   * At shutdown: sends the digests of open crash-loop windows now, then
   * resolves when every queued message has been delivered or given up.
   * Messages still failing get one last attempt instead of waiting for
   * their retries (none while the rate limit forbids it: those are left
   * for the restart), so that shutdown is not held up by a chat outage.
   */
  drain(): Promise<void>;
  /** Resolves when every queued message has been handled, leaving crash-loop windows open (for tests). */
  idle(): Promise<void>;
}

interface ChannelState {
  channel: Channel;
  template: string;
  queue: ChannelQueue;
  loops?: CrashLoopTimer;
}

/** Creates a dispatcher over `channels`. */
export function createDispatcher(channels: Channel[], options: DispatcherOptions): Dispatcher {
  const clock = options.clock ?? systemClock;
  const { logger, metrics } = options;
  const closing = new AbortController();
  const states: ChannelState[] = channels.map((channel) => {
    const template = channel.settings.template || options.template || DEFAULT_TEMPLATE;
    const queue = new ChannelQueue(channel, {
      clock,
      logger,
      metrics,
      random: options.random,
      closing: closing.signal,
    });
    const loops = channel.settings.crashLoop?.enabled
      ? new CrashLoopTimer(channel.settings.crashLoop, { clock, logger, metrics, template, queue })
      : undefined;
    return { channel, template, queue, loops };
  });

  /** Filters, folds or queues the message for one channel; resolves when it is handled there. */
  function prepare(state: ChannelState, record: CrashRecord, now: number): Promise<boolean> {
    const { notifier } = state.channel;
    const text = renderTemplate(state.template, record);
    const refusal = channelRefusal(state.channel.settings, { text, record });
    if (refusal) {
      metrics.filtered.inc({ channel: notifier.name });
      logger.debug("notification filtered", { channel: notifier.name, reason: refusal });
      return Promise.resolve(true);
    }
    if (state.loops?.observe(record, now) === "fold") {
      metrics.folded.inc({ channel: notifier.name });
      logger.debug("crash loop: this crash goes into the digest", {
        channel: notifier.name,
        loop: describeLoop(record),
        core: record.corefile.filename,
      });
      return Promise.resolve(true);
    }
    return state.queue.enqueue({ kind: "crash", text, record }, now);
  }

  const idle = () => waitIdle(states.map((state) => state.queue));

  return {
    publish(record: CrashRecord): Promise<boolean> {
      const now = clock.now();
      const handled: Promise<boolean>[] = [];
      for (const state of states) {
        try {
          handled.push(prepare(state, record, now));
        } catch (error) {
          metrics.failed.inc({ channel: state.channel.notifier.name });
          logger.error("cannot prepare the notification", {
            channel: state.channel.notifier.name,
            error: (error as Error).message,
          });
        }
      }
      return Promise.all(handled).then((results) => results.every(Boolean));
    },
    async drain(): Promise<void> {
      closing.abort();
      const now = clock.now();
      for (const state of states) state.loops?.flush(now);
      await idle();
    },
    idle,
  };
}
