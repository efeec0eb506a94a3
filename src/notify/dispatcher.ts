/**
 * Hands crash records to the channels without ever holding up the
 * pipeline: `publish` renders and queues, and each channel drains its own
 * queue, so one slow or broken chat API delays nobody else and never an
 * upload.
 *
 * Per channel, in `publish`: the keyword filter, then the crash-loop
 * tracker (the first crash of a loop is queued at once, repeats wait for
 * the digest at the end of the window). Both run at publish time so that
 * loop windows follow the crashes, not a queue held up by an outage.
 *
 * @module
 */

import { type ChannelSettings, DEFAULT_DELIVERY } from "../core/config.ts";
import { type CrashLoopDigest, CrashLoopTracker, describeLoop, renderDigest } from "../core/crash_loop.ts";
import type { CrashRecord } from "../core/crash_record.ts";
import type { RateWindow } from "../core/rate_limit.ts";
import { DEFAULT_TEMPLATE, renderTemplate } from "../core/template.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import { type Clock, systemClock } from "./clock.ts";
import { deliver } from "./delivery.ts";
import type { Notification, Notifier } from "./notifier.ts";

/** A channel's settings, its sender and its API's rate limit. */
export interface Channel {
  /** The `NoticeChannel` entry. */
  settings: ChannelSettings;
  /** Sends one message to the channel's API. */
  notifier: Notifier;
  /** Shared by every channel that posts to the same robot; absent: no limit. */
  rate?: RateWindow;
}

/** Counters the dispatcher keeps (all labelled by `channel`). */
export interface DispatcherMetrics {
  /** Messages a channel accepted. */
  sent: Counter;
  /** Messages given up (refused, or still failing at the give-up time). */
  failed: Counter;
  /** Messages skipped by the channel's keyword. */
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
  tail: Promise<void>;
  loops?: CrashLoopTracker;
  timer?: AbortController;
}

/** Creates a dispatcher over `channels`. */
export function createDispatcher(channels: Channel[], options: DispatcherOptions): Dispatcher {
  const clock = options.clock ?? systemClock;
  const { logger, metrics } = options;
  const closing = new AbortController();
  const states: ChannelState[] = channels.map((channel) => ({
    channel,
    template: channel.settings.template || options.template || DEFAULT_TEMPLATE,
    tail: Promise.resolve(),
    loops: channel.settings.crashLoop?.enabled ? new CrashLoopTracker(channel.settings.crashLoop) : undefined,
  }));

  /** Queues one message; resolves false when shutdown interrupted its delivery. */
  function enqueue(state: ChannelState, notification: Notification, publishedAt: number): Promise<boolean> {
    const handled = state.tail.then(() => send(state, notification, publishedAt)).catch((error) => {
      logger.error("notification failed", { channel: state.channel.notifier.name, error: String(error) });
      return true;
    });
    state.tail = handled.then(() => {});
    return handled;
  }

  async function send(state: ChannelState, notification: Notification, publishedAt: number): Promise<boolean> {
    const { notifier, settings, rate } = state.channel;
    const delivery = settings.delivery ?? DEFAULT_DELIVERY;
    const labels = { channel: notifier.name };
    const outcome = await deliver(notifier, notification, {
      clock,
      rate,
      deadline: publishedAt + delivery.giveUpAfterMs,
      retryMaxMs: delivery.retryMaxMs,
      random: options.random,
      signal: closing.signal,
      onRetry: (info) => {
        metrics.retried.inc(labels);
        logger.warn("notification not accepted; retrying", {
          channel: notifier.name,
          core: notification.record.corefile.filename,
          attempt: info.attempt,
          retry_in_ms: info.delayMs,
          error: info.error,
        });
      },
    });
    if (outcome.delivered) {
      metrics.sent.inc(labels);
      if (outcome.attempts > 1) {
        logger.info("notification delivered after retries", { channel: notifier.name, attempts: outcome.attempts });
      }
      return true;
    }
    if (outcome.interrupted) {
      logger.warn("notification not delivered before shutdown; it is sent again after the restart", {
        channel: notifier.name,
        core: notification.record.corefile.filename,
        error: outcome.error,
      });
      return false;
    }
    metrics.failed.inc(labels);
    logger.error("notification failed", {
      channel: notifier.name,
      core: notification.record.corefile.filename,
      kind: notification.kind,
      attempts: outcome.attempts,
      reason: outcome.reason,
      error: outcome.error,
    });
    return true;
  }

  function queueDigests(state: ChannelState, digests: CrashLoopDigest[]): void {
    for (const digest of digests) {
      const latest = digest.repeats[digest.repeats.length - 1];
      try {
        const text = renderDigest(digest, { template: state.template });
        metrics.digests.inc({ channel: state.channel.notifier.name });
        logger.info("crash loop digest", {
          channel: state.channel.notifier.name,
          loop: describeLoop(latest),
          crashes: digest.count,
        });
        enqueue(state, { kind: "digest", text, record: latest, digest }, clock.now());
      } catch (error) {
        metrics.failed.inc({ channel: state.channel.notifier.name });
        logger.error("cannot prepare the crash loop digest", {
          channel: state.channel.notifier.name,
          error: (error as Error).message,
        });
      }
    }
  }

  /** Wakes up when the earliest open window ends. New windows never end earlier, so one timer suffices. */
  function arm(state: ChannelState): void {
    if (!state.loops || state.timer) return;
    const due = state.loops.nextDueAt();
    if (due === undefined) return;
    const timer = new AbortController();
    state.timer = timer;
    clock.sleep(Math.max(0, due - clock.now()), timer.signal).then(() => {
      state.timer = undefined;
      queueDigests(state, state.loops!.takeDue(clock.now()));
      arm(state);
    }, () => {
      // Cancelled by drain().
    });
  }

  /** Queues the message for one channel; resolves when it is handled there. */
  function prepare(state: ChannelState, record: CrashRecord, now: number): Promise<boolean> {
    const { settings, notifier } = state.channel;
    const text = renderTemplate(state.template, record);
    if (settings.keyword && !text.includes(settings.keyword)) {
      metrics.filtered.inc({ channel: notifier.name });
      logger.debug("notification filtered by keyword", { channel: notifier.name, keyword: settings.keyword });
      return Promise.resolve(true);
    }
    if (state.loops) {
      const verdict = state.loops.observe(record, now);
      queueDigests(state, state.loops.takeDue(now));
      arm(state);
      if (verdict === "fold") {
        metrics.folded.inc({ channel: notifier.name });
        logger.debug("crash loop: this crash goes into the digest", {
          channel: notifier.name,
          loop: describeLoop(record),
          core: record.corefile.filename,
        });
        return Promise.resolve(true);
      }
    }
    return enqueue(state, { kind: "crash", text, record }, now);
  }

  async function idle(): Promise<void> {
    for (;;) {
      const tails = states.map((state) => state.tail);
      await Promise.all(tails);
      if (states.every((state, i) => state.tail === tails[i])) return;
    }
  }

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
      for (const state of states) {
        if (!state.loops) continue;
        state.timer?.abort();
        state.timer = undefined;
        queueDigests(state, state.loops.takeAll(now));
      }
      await idle();
    },
    idle,
  };
}
