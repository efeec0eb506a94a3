/**
 * Builds the notification channels from the configuration.
 *
 * Each channel type lives in a file of its own (`console.ts`, ...); the
 * queueing and keyword filter they share are in `dispatcher.ts`.
 *
 * @module
 */

import type { ChannelSettings } from "../core/config.ts";
import type { Channel } from "./dispatcher.ts";
import { createConsoleNotifier } from "./console.ts";

export { type Channel, createDispatcher, type Dispatcher } from "./dispatcher.ts";
export type { Notification, Notifier } from "./notifier.ts";

/** Creates one {@linkcode Channel} per `NoticeChannel` entry. */
export function createChannels(settings: ChannelSettings[]): Channel[] {
  return settings.map((channel) => {
    const name = `${channel.chan}#${channel.index}`;
    switch (channel.chan) {
      case "console":
        return { settings: channel, notifier: createConsoleNotifier(name) };
      default:
        throw new Error(`NoticeChannel[${channel.index}]: chan ${channel.chan} is not available in this build`);
    }
  });
}
