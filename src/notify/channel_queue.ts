/**
 * One channel's queue: messages go out one after the other, each through
 * the retry loop (`retry_loop.ts`), so one slow or broken chat API delays
 * nobody else and never an upload.
 *
 * @module
 */

import { DEFAULT_DELIVERY } from "../core/delivery_settings.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import type { Channel } from "./channels.ts";
import type { Clock } from "./clock.ts";
import type { Notification } from "./notifier.ts";
import { deliver } from "./retry_loop.ts";

/** Counters a queue keeps (labelled by `channel`). */
export interface QueueMetrics {
  /** Messages the channel accepted. */
  sent: Counter;
  /** Messages given up (refused, or still failing at the give-up time). */
  failed: Counter;
  /** Attempts that failed and were retried. */
  retried: Counter;
}

/** Options of {@linkcode ChannelQueue}. */
export interface ChannelQueueOptions {
  clock: Clock;
  logger: Logger;
  metrics: QueueMetrics;
  /** Jitter source for retry backoff. */
  random?: () => number;
  /** Aborted at shutdown: retries stop waiting (see `retry_loop.ts`). */
  closing: AbortSignal;
}

/** Sends a channel's messages in order. */
export class ChannelQueue {
  readonly channel: Channel;
  #options: ChannelQueueOptions;
  #tail: Promise<void> = Promise.resolve();

  /** A queue for `channel`. */
  constructor(channel: Channel, options: ChannelQueueOptions) {
    this.channel = channel;
    this.#options = options;
  }

  /** Settles when everything queued so far is handled. */
  get tail(): Promise<void> {
    return this.#tail;
  }

  /** Queues one message; resolves false when shutdown interrupted its delivery, true otherwise. */
  enqueue(notification: Notification, publishedAt: number): Promise<boolean> {
    const handled = this.#tail.then(() => this.#send(notification, publishedAt)).catch((error) => {
      this.#options.logger.error("notification failed", { channel: this.channel.notifier.name, error: String(error) });
      return true;
    });
    this.#tail = handled.then(() => {});
    return handled;
  }

  async #send(notification: Notification, publishedAt: number): Promise<boolean> {
    const { clock, logger, metrics } = this.#options;
    const { notifier, settings, rate } = this.channel;
    const delivery = settings.delivery ?? DEFAULT_DELIVERY;
    const labels = { channel: notifier.name };
    const outcome = await deliver(notifier, notification, {
      clock,
      rate,
      deadline: publishedAt + delivery.giveUpAfterMs,
      retryMaxMs: delivery.retryMaxMs,
      random: this.#options.random,
      signal: this.#options.closing,
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
}

/** Resolves when every queue is empty, including messages queued while waiting. */
export async function waitIdle(queues: ChannelQueue[]): Promise<void> {
  for (;;) {
    const tails = queues.map((queue) => queue.tail);
    await Promise.all(tails);
    if (queues.every((queue, i) => queue.tail === tails[i])) return;
  }
}
