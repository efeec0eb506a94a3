/**
 * The `dingtalk` channel: a DingTalk (钉钉) custom robot,
 * `POST https://oapi.dingtalk.com/robot/send?access_token=TOKEN`.
 *
 * With a signing secret (加签), each request carries `timestamp` (ms) and
 * `sign = urlencode(base64(HMAC-SHA256(secret, timestamp + "\n" + secret)))`
 * in the query. Errors come back as HTTP 200 with a non-zero `errcode`
 * (310000: keyword, signature or IP check failed; 130101: too fast).
 *
 * DingTalk does not document a content limit for custom robots (its
 * enterprise robots take 15,000 bytes), so CoreDog keeps to a
 * conservative 4000 bytes.
 *
 * @module
 */

import { createHmac } from "node:crypto";
import type { ChannelSettings } from "../core/channel_settings.ts";
import type { RateRule } from "../core/rate_limit.ts";
import { truncateText } from "../core/text_limit.ts";
import { createHttpNotifier, judgeErrcodeAnswer } from "./http_notifier.ts";
import type { HttpAnswer } from "./http_post.ts";
import type { AttemptResult, Notifier } from "./notifier.ts";

/** Content limit in UTF-8 bytes (conservative; see the module notes). */
export const DINGTALK_LIMIT_BYTES = 4000;

/** 20 messages a minute per robot (DingTalk then blocks the robot for 10 minutes); one second of slack for skew. */
export const DINGTALK_RATE: RateRule[] = [{ limit: 20, windowMs: 61_000 }];

/** `base64(HMAC-SHA256(secret, timestamp + "\n" + secret))`, before URL encoding. */
function dingtalkSign(secret: string, timestampMs: number): string {
  return createHmac("sha256", secret).update(`${timestampMs}\n${secret}`).digest("base64");
}

/** The webhook URL with `timestamp` and `sign` added when `secret` is set. */
function dingtalkUrl(webhookurl: string, secret: string, now: number): string {
  if (!secret) return webhookurl;
  const url = new URL(webhookurl);
  url.searchParams.set("timestamp", String(now));
  url.searchParams.set("sign", dingtalkSign(secret, now));
  return url.toString();
}

/** The request body for `text`, cut to the limit. */
function dingtalkPayload(text: string): Record<string, unknown> {
  return { msgtype: "text", text: { content: truncateText(text, DINGTALK_LIMIT_BYTES) } };
}

/** Reads DingTalk's answer: 130101 (too fast) waits a minute, -1 (busy) backs off; other codes are final. */
function judgeDingtalkAnswer(answer: HttpAnswer, now: number): AttemptResult {
  return judgeErrcodeAnswer(answer, now, { api: "dingtalk", retryable: { 130101: 60_000, [-1]: undefined } });
}

/** Creates the channel for a `dingtalk` entry. */
export function createDingtalkNotifier(
  name: string,
  settings: ChannelSettings,
  options: { timeoutMs: number },
): Notifier {
  const secret = String(settings.options.secret ?? "");
  return createHttpNotifier(name, {
    request: (notification, now) => ({
      url: dingtalkUrl(settings.webhookurl, secret, now),
      body: JSON.stringify(dingtalkPayload(notification.text)),
    }),
    judge: judgeDingtalkAnswer,
  }, options);
}
