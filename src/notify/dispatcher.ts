/**
 * Hands crash records to the channels without ever holding up the
 * pipeline: `publish` only queues, and each channel drains its own queue,
 * so one slow or broken chat API delays nobody else and never an upload.
 *
 * @module
 */

import type { ChannelSettings } from "../core/config.ts";
import type { CrashRecord } from "../core/crash_record.ts";
import { DEFAULT_TEMPLATE, renderTemplate } from "../core/template.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import type { Notifier } from "./notifier.ts";

/** A channel's settings and its sender. */
export interface Channel {
  settings: ChannelSettings;
  notifier: Notifier;
}

/** Counters the dispatcher keeps. */
export interface DispatcherMetrics {
  sent: Counter;
  failed: Counter;
  filtered: Counter;
}

/** Options of {@linkcode createDispatcher}. */
export interface DispatcherOptions {
  /** `messageTemplate`; empty means the built-in template. */
  template: string;
  logger: Logger;
  metrics: DispatcherMetrics;
}

/** Queues notifications per channel. */
export interface Dispatcher {
  /** Queues `record` for every channel; returns at once. */
  publish(record: CrashRecord): void;
  /** Resolves when every queued message has been handled (for shutdown and tests). */
  drain(): Promise<void>;
}

/** Creates a dispatcher over `channels`. */
export function createDispatcher(channels: Channel[], options: DispatcherOptions): Dispatcher {
  const tails = new Map<Channel, Promise<void>>();

  async function deliver(channel: Channel, record: CrashRecord): Promise<void> {
    const { settings, notifier } = channel;
    const text = renderTemplate(settings.template || options.template || DEFAULT_TEMPLATE, record);
    if (settings.keyword && !text.includes(settings.keyword)) {
      options.metrics.filtered.inc({ channel: notifier.name });
      options.logger.debug("notification filtered by keyword", { channel: notifier.name, keyword: settings.keyword });
      return;
    }
    try {
      await notifier.send({ text, record });
      options.metrics.sent.inc({ channel: notifier.name });
    } catch (error) {
      options.metrics.failed.inc({ channel: notifier.name });
      options.logger.error("notification failed", {
        channel: notifier.name,
        core: record.corefile.filename,
        error: (error as Error).message,
      });
    }
  }

  return {
    publish(record: CrashRecord): void {
      for (const channel of channels) {
        const previous = tails.get(channel) ?? Promise.resolve();
        tails.set(channel, previous.then(() => deliver(channel, record)));
      }
    },
    async drain(): Promise<void> {
      await Promise.all(tails.values());
    },
  };
}
