/**
 * Builds the notification channels from the configuration: one sender per
 * `NoticeChannel` entry, with its API's rate limit shared by every entry
 * that posts to the same robot.
 *
 * Each channel type lives in a file of its own: `console.ts`, `wechat.ts`
 * (`wechat`/`wecom`, the WeCom robot API), `slack.ts`, `dingtalk.ts`,
 * `feishu.ts` (`feishu`/`lark`) and `generic_webhook.ts` (`webhook`).
 *
 * @module
 */

import type { ChannelSettings } from "../core/channel_settings.ts";
import { DEFAULT_DELIVERY } from "../core/delivery_settings.ts";
import { type RateRule, RateWindow } from "../core/rate_limit.ts";
import { createConsoleNotifier } from "./console.ts";
import { createDingtalkNotifier, DINGTALK_RATE } from "./dingtalk.ts";
import { createFeishuNotifier, FEISHU_RATE } from "./feishu.ts";
import { createGenericWebhookNotifier } from "./generic_webhook.ts";
import type { Notifier } from "./notifier.ts";
import { createSlackNotifier, SLACK_RATE } from "./slack.ts";
import { createWechatNotifier, WECHAT_RATE } from "./wechat.ts";

/** A channel's settings, its sender and its API's rate limit. */
export interface Channel {
  /** The `NoticeChannel` entry. */
  settings: ChannelSettings;
  /** Sends one message to the channel's API. */
  notifier: Notifier;
  /** Shared by every channel that posts to the same robot; absent: no limit. */
  rate?: RateWindow;
}

type Factory = (name: string, settings: ChannelSettings, options: { timeoutMs: number }) => Notifier;

interface Backend {
  create: Factory;
  /** The API's rate limit; absent: none. */
  rate?: RateRule[];
  /** False when every crash should be printed, crash loop or not. */
  digests?: boolean;
}

/**
 * Every channel type (aliases resolved by the configuration). The console
 * is a log: one message per core is what log collectors expect, and it is
 * what the local quickstart shows for every `deno task crash`.
 */
const BACKENDS: Record<string, Backend> = {
  console: { create: (name) => createConsoleNotifier(name), digests: false },
  wechat: { create: createWechatNotifier, rate: WECHAT_RATE },
  slack: { create: createSlackNotifier, rate: SLACK_RATE },
  dingtalk: { create: createDingtalkNotifier, rate: DINGTALK_RATE },
  feishu: { create: createFeishuNotifier, rate: FEISHU_RATE },
  webhook: { create: createGenericWebhookNotifier },
};

/**
 * Creates one {@linkcode Channel} per `NoticeChannel` entry. Entries that
 * post to the same robot share one rate limit, as the API counts them
 * together.
 *
 * @throws {Error} only for settings `parseConfig` would have refused (an unknown `chan`).
 */
export function createChannels(settings: ChannelSettings[]): Channel[] {
  const windows = new Map<string, RateWindow>();
  return settings.map((channel) => {
    const backend = BACKENDS[channel.chan];
    if (!backend) throw new Error(`NoticeChannel[${channel.index}]: chan ${channel.chan} is not a channel type`);
    const name = `${channel.chan}#${channel.index}`;
    const timeoutMs = (channel.delivery ?? DEFAULT_DELIVERY).requestTimeoutMs;
    const notifier = backend.create(name, channel, { timeoutMs });
    const own = backend.digests === false ? { ...channel, crashLoop: undefined } : channel;
    if (!backend.rate) return { settings: own, notifier };
    const robot = `${channel.chan} ${robotKey(channel.webhookurl)}`;
    let rate = windows.get(robot);
    if (!rate) {
      rate = new RateWindow(backend.rate);
      windows.set(robot, rate);
    }
    return { settings: own, notifier, rate };
  });
}

/** One robot's URL, however it was spelled (with or without a trailing slash). */
function robotKey(webhookurl: string): string {
  return webhookurl.replace(/\/+$/, "");
}
