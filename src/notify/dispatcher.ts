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
 * A crash whose signature was grouped across nodes (its sighting carries a
 * group decision, see `core/crash_digest.ts`) skips the crash-loop timer:
 * the group already decided whether it gets a message now or folds into
 * the signature's digest, which `signature_digest_timer.ts` sends when the
 * window this watcher claimed ends. Channels without digests (the generic
 * webhook) get every crash.
 *
 * @module
 */

import type { CrashRecord } from "../core/crash_record.ts";
import { describeLoop } from "../core/crash_loop.ts";
import { digestForNamespaces, renderSignatureDigest, type SignatureDigest } from "../core/crash_digest.ts";
import { globMatches, routeRefusal } from "../core/channel_route.ts";
import { DEFAULT_TEMPLATE, renderTemplate } from "../core/template.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import { channelRefusal } from "./channel_filter.ts";
import { ChannelQueue, waitIdle } from "./channel_queue.ts";
import type { Channel } from "./channels.ts";
import { type Clock, systemClock } from "./clock.ts";
import { CrashLoopTimer } from "./crash_loop_timer.ts";
import { type DigestSource, SignatureDigestTimer } from "./signature_digest_timer.ts";

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
  /** Where the digests of claimed signature windows are read (the watcher's signature registry). */
  digestSource?: DigestSource;
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
  const signatures = options.digestSource
    ? new SignatureDigestTimer({
      clock,
      logger,
      metrics,
      source: options.digestSource,
      deliver: (digest) => deliverSignatureDigest(digest),
    })
    : undefined;

  /** Queues a signature digest for every channel with digests that takes some of its crashes. */
  function deliverSignatureDigest(digest: SignatureDigest): void {
    for (const state of states) {
      const { settings, notifier } = state.channel;
      if (!settings.crashLoop?.enabled) continue;
      try {
        // Namespaces are checked per folded crash; labels and keyword on the claimant's crash and the text.
        const namespaces = settings.namespaces ?? [];
        const mine = digestForNamespaces(
          digest,
          (namespace) =>
            namespaces.length === 0 ||
            (namespace !== undefined && namespaces.some((glob) => globMatches(glob, namespace))),
        );
        if (!mine) continue;
        const text = renderSignatureDigest(mine, { template: state.template });
        const refusal = (settings.keyword && !text.includes(settings.keyword))
          ? `the digest does not contain the keyword ${settings.keyword}`
          : routeRefusal({ matchLabels: settings.matchLabels }, digest.record);
        if (refusal) {
          metrics.filtered.inc({ channel: notifier.name });
          continue;
        }
        metrics.digests.inc({ channel: notifier.name });
        logger.info("crash signature digest", {
          channel: notifier.name,
          signature: digest.signature,
          crashes: mine.occurrences.length,
        });
        state.queue.enqueue({ kind: "digest", text, record: digest.record, signatureDigest: mine }, clock.now());
      } catch (error) {
        metrics.failed.inc({ channel: notifier.name });
        logger.error("cannot prepare the crash signature digest", {
          channel: notifier.name,
          error: (error as Error).message,
        });
      }
    }
  }

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
    const group = record.sighting?.group;
    if (group) {
      if (group.verdict === "fold" && state.channel.settings.crashLoop?.enabled) {
        metrics.folded.inc({ channel: notifier.name });
        logger.debug("crash signature: this crash goes into the signature's digest", {
          channel: notifier.name,
          signature: record.crash?.signature,
          core: record.corefile.filename,
        });
        return Promise.resolve(true);
      }
      return state.queue.enqueue({ kind: "crash", text, record }, now);
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

  const idle = async () => {
    await signatures?.idle();
    await waitIdle(states.map((state) => state.queue));
  };

  return {
    publish(record: CrashRecord): Promise<boolean> {
      const now = clock.now();
      signatures?.arm(record);
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
      await signatures?.flush();
      await idle();
    },
    idle,
  };
}
