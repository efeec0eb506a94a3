/**
 * The `wechat` channel (also spelled `wecom`): a WeCom (企业微信) group
 * robot, `POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`.
 *
 * Markdown by default, plain text with `msgtype: text`. WeCom counts the
 * content in UTF-8 bytes (text 2048, markdown 4096) and refuses longer
 * content (errcode 40058) rather than cutting it, so CoreDog cuts first.
 * Errors come back as HTTP 200 with a non-zero `errcode`.
 *
 * @module
 */

import type { ChannelSettings } from "../core/channel_settings.ts";
import type { RateRule } from "../core/rate_limit.ts";
import { truncateText, utf8Bytes } from "../core/text_limit.ts";
import { createHttpNotifier, judgeErrcodeAnswer } from "./http_notifier.ts";
import type { HttpAnswer } from "./http_post.ts";
import type { AttemptResult, Notifier } from "./notifier.ts";

/** Content limits in UTF-8 bytes, by message type. */
const WECOM_LIMIT_BYTES = { text: 2048, markdown: 4096 } as const;

/** 20 messages a minute per robot; the extra second absorbs clock skew between us and WeCom. */
export const WECHAT_RATE: RateRule[] = [{ limit: 20, windowMs: 61_000 }];

/** Options of {@linkcode wecomPayload}. */
interface WecomOptions {
  /** WeCom's message type. */
  msgtype: "markdown" | "text";
  /** User ids to @ (`@all` with `text` only). */
  mentionedList?: string[];
  /** Mobile numbers to @ (`text` only). */
  mentionedMobileList?: string[];
}

/** The request body for `text`, cut to WeCom's limit. */
function wecomPayload(text: string, options: WecomOptions): Record<string, unknown> {
  const mentioned = options.mentionedList ?? [];
  if (options.msgtype === "markdown") {
    // Markdown has no mention fields; WeCom renders `<@userid>` in the content instead.
    const suffix = mentioned.length > 0 ? `\n${mentioned.map((id) => `<@${id}>`).join(" ")}` : "";
    const content = truncateText(text, WECOM_LIMIT_BYTES.markdown - utf8Bytes(suffix)) + suffix;
    return { msgtype: "markdown", markdown: { content } };
  }
  const body: Record<string, unknown> = { content: truncateText(text, WECOM_LIMIT_BYTES.text) };
  if (mentioned.length > 0) body.mentioned_list = mentioned;
  if ((options.mentionedMobileList ?? []).length > 0) body.mentioned_mobile_list = options.mentionedMobileList;
  return { msgtype: "text", text: body };
}

/**
 * Reads WeCom's answer. Retried: 45009 (over the rate limit: wait a
 * minute), -1 (system busy), 5xx and network errors. Not retried: 93000
 * (invalid webhook), 40058 (too long) and every other code.
 */
function judgeWecomAnswer(answer: HttpAnswer, now: number): AttemptResult {
  return judgeErrcodeAnswer(answer, now, { api: "wecom", retryable: { 45009: 60_000, [-1]: undefined } });
}

/** Creates the channel for a `wechat`/`wecom` entry. */
export function createWechatNotifier(
  name: string,
  settings: ChannelSettings,
  options: { timeoutMs: number },
): Notifier {
  const wecom: WecomOptions = {
    msgtype: settings.options.msgtype === "text" ? "text" : "markdown",
    mentionedList: (settings.options.mentioned_list as string[] | undefined) ?? [],
    mentionedMobileList: (settings.options.mentioned_mobile_list as string[] | undefined) ?? [],
  };
  return createHttpNotifier(name, {
    request: (notification) => ({
      url: settings.webhookurl,
      body: JSON.stringify(wecomPayload(notification.text, wecom)),
    }),
    judge: judgeWecomAnswer,
  }, options);
}
