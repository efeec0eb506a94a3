/**
 * The `NoticeChannel` list as the notifiers use it: channel types and
 * aliases, each channel's own keys, and settings that parse but cannot
 * work with the chat API they are for.
 *
 * @module
 */

import { routeProblems } from "./channel_route.ts";
import { CHANNEL_ALIASES, CHANNEL_COMMON_KEYS, CHANNEL_EXTRA_KEYS, CHANNEL_TYPES } from "./config_schema.ts";
import { checkKeys, isHttpUrl, isPlainObject, readSection } from "./config_values.ts";
import type { CrashLoopSettings } from "./crash_loop.ts";
import type { DeliverySettings } from "./delivery_settings.ts";

/** One notification channel, from a `NoticeChannel` entry. */
export interface ChannelSettings {
  /** Position in `NoticeChannel`, for messages such as "NoticeChannel[2]". */
  index: number;
  /** Channel type with aliases resolved (`wecom` is `wechat`, `lark` is `feishu`). */
  chan: string;
  webhookurl: string;
  keyword: string;
  template: string;
  /** Namespace names or globs this channel is limited to; empty: every namespace. */
  namespaces?: string[];
  /** Pod labels this channel is limited to; empty: any pod. */
  matchLabels?: Record<string, string>;
  /** Channel-specific keys (see `CHANNEL_EXTRA_KEYS`), defaults filled in. */
  options: Record<string, unknown>;
  /** From `CrashLoop` (the same for every channel); absent: every crash gets its own message. */
  crashLoop?: CrashLoopSettings;
  /** From `Notify` (the same for every channel); absent: `DEFAULT_DELIVERY`. */
  delivery?: DeliverySettings;
}

/** The channels of `NoticeChannel` (undefined: none); entries with problems are left out and the problems collected. */
export function readChannels(raw: unknown, problems: string[]): ChannelSettings[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.push("NoticeChannel must be a list, e.g. NoticeChannel: [{chan: wechat, webhookurl: ...}]");
    return [];
  }
  const channels: ChannelSettings[] = [];
  raw.forEach((entry, index) => {
    const where = `NoticeChannel[${index}]`;
    if (!isPlainObject(entry)) {
      problems.push(`${where} must be a mapping with chan and webhookurl`);
      return;
    }
    const chanRaw = entry.chan;
    const chan = typeof chanRaw === "string" ? (CHANNEL_ALIASES[chanRaw] ?? chanRaw) : "";
    const extra = CHANNEL_EXTRA_KEYS[chan];
    if (!extra) {
      const allowed = CHANNEL_TYPES.join(", ");
      problems.push(
        chanRaw === undefined
          ? `${where}.chan is required; one of ${allowed}`
          : `${where}.chan "${String(chanRaw)}" is not a channel type; use one of ${allowed}`,
      );
      return;
    }
    const spec = { ...CHANNEL_COMMON_KEYS, ...extra };
    const before = problems.length;
    checkKeys(entry, spec, `${where}.`, problems);
    const values = readSection(entry, spec, `${where}.`, problems);
    if (problems.length > before) return;
    const webhookurl = String(values.webhookurl);
    if (chan === "console" && webhookurl) {
      problems.push(`${where} (console) takes no webhookurl; remove it`);
    } else if (chan !== "console" && !webhookurl) {
      problems.push(`${where} (${chan}) needs a webhookurl`);
    }
    const options: Record<string, unknown> = {};
    for (const key of Object.keys(extra)) options[key] = values[key];
    checkChannelOptions(chan, webhookurl, options, where, problems);
    const route = {
      namespaces: values.namespaces as string[],
      matchLabels: values.matchLabels as Record<string, string>,
    };
    problems.push(...routeProblems(route, where));
    channels.push({
      index,
      chan,
      webhookurl,
      keyword: String(values.keyword),
      template: String(values.template),
      namespaces: values.namespaces as string[],
      matchLabels: values.matchLabels as Record<string, string>,
      options,
    });
  });
  return channels;
}

/** Settings that parse but cannot work with the API they are for. */
function checkChannelOptions(
  chan: string,
  webhookurl: string,
  options: Record<string, unknown>,
  where: string,
  problems: string[],
): void {
  const host = isHttpUrl(webhookurl) ? new URL(webhookurl).hostname : "";
  if (chan === "wechat") {
    if (options.msgtype === "markdown") {
      if ((options.mentioned_mobile_list as string[]).length > 0) {
        problems.push(
          `${where}.mentioned_mobile_list needs msgtype: text; WeCom markdown cannot mention by mobile number`,
        );
      }
      if ((options.mentioned_list as string[]).includes("@all")) {
        problems.push(`${where}.mentioned_list "@all" needs msgtype: text; WeCom markdown cannot mention everyone`);
      }
    }
    if (host === "qyapi.weixin.qq.com" && !new URL(webhookurl).searchParams.get("key")) {
      problems.push(`${where}.webhookurl has no ?key=; copy the robot's whole webhook address`);
    }
  }
  if (chan === "dingtalk" && host === "oapi.dingtalk.com" && !new URL(webhookurl).searchParams.get("access_token")) {
    problems.push(`${where}.webhookurl has no ?access_token=; copy the robot's whole webhook address`);
  }
  if (chan === "webhook") {
    for (const [name, value] of Object.entries(options.headers as Record<string, string>)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
        problems.push(`${where}.headers "${name}" is not a valid HTTP header name`);
      } else if (/[\r\n\0]/.test(value)) {
        problems.push(`${where}.headers.${name} must be one line`);
      }
    }
  }
}
