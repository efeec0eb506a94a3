/**
 * Whether a channel takes a message: its `keyword` (the rendered message
 * must contain it, as in the seed) and its routing keys (`namespaces`,
 * `matchLabels`, see `core/channel_route.ts`).
 *
 * @module
 */

import type { ChannelSettings } from "../core/channel_settings.ts";
import { routeRefusal } from "../core/channel_route.ts";
import type { CrashRecord } from "../core/crash_record.ts";

/** Why a channel skips a message, or undefined when it takes it. */
export function channelRefusal(
  settings: ChannelSettings,
  message: { text: string; record: CrashRecord },
): string | undefined {
  if (settings.keyword && !message.text.includes(settings.keyword)) {
    return `the message does not contain the keyword ${settings.keyword}`;
  }
  return routeRefusal(settings, message.record);
}
