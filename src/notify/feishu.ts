/**
 * The `feishu` channel (also spelled `lark`): a Feishu/Lark custom bot,
 * `POST https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN`.
 *
 * With a signing secret (签名校验) the body carries `timestamp` (seconds)
 * and `sign = base64(HMAC-SHA256(key = timestamp + "\n" + secret, msg = ""))`:
 * unlike DingTalk, the string is the key and the message is empty.
 * Success is `{"code": 0}`; errors carry a non-zero `code` (19021
 * signature, 19024 keyword, 9499 bad request, 11232 rate limit), with
 * HTTP 200 or 4xx. A bot takes 100 messages a minute and 5 a second, and
 * a request body of at most 20 KB.
 *
 * @module
 */

import { createHmac } from "node:crypto";
import type { ChannelSettings } from "../core/channel_settings.ts";
import { parseRetryAfter } from "../core/retry_policy.ts";
import type { RateRule } from "../core/rate_limit.ts";
import { jsonStringBytes, truncateText, utf8Bytes } from "../core/text_limit.ts";
import { createHttpNotifier, jsonObject } from "./http_notifier.ts";
import { type HttpAnswer, judgeStatus, snippet } from "./http_post.ts";
import type { AttemptResult, Notifier } from "./notifier.ts";

/** Largest request body, bytes ("20 KB", read as 20,000 to stay on the safe side). */
const FEISHU_BODY_LIMIT_BYTES = 20_000;

/** 100 a minute and 5 a second per bot, with a little slack for clock skew. */
export const FEISHU_RATE: RateRule[] = [{ limit: 100, windowMs: 61_000 }, { limit: 5, windowMs: 1100 }];

/** `base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = ""))`. */
function feishuSign(secret: string, timestampSeconds: number): string {
  return createHmac("sha256", `${timestampSeconds}\n${secret}`).update("").digest("base64");
}

/** Options of {@linkcode feishuPayload}. */
interface FeishuOptions {
  /** Signing secret; empty for none. */
  secret?: string;
  /** Current time, ms. */
  now: number;
}

/** The request body for `text`, with the text cut so that the whole body stays within 20 KB. */
function feishuPayload(text: string, options: FeishuOptions): Record<string, unknown> {
  const signing: Record<string, string> = {};
  if (options.secret) {
    const timestamp = Math.floor(options.now / 1000);
    signing.timestamp = String(timestamp);
    signing.sign = feishuSign(options.secret, timestamp);
  }
  const empty = { ...signing, msg_type: "text", content: { text: "" } };
  const room = FEISHU_BODY_LIMIT_BYTES - utf8Bytes(JSON.stringify(empty));
  return { ...signing, msg_type: "text", content: { text: truncateText(text, room, { measure: jsonStringBytes }) } };
}

const RETRYABLE_CODES = new Set([11232, 99991400]);

/** Reads Feishu's answer, by `code` first (it may come with 200 or 400), then by status. */
function judgeFeishuAnswer(answer: HttpAnswer, now: number): AttemptResult {
  const json = jsonObject(answer.body);
  const code = typeof json?.code === "number" ? json.code : json?.StatusCode;
  const retryAfterMs = parseRetryAfter(answer.headers.get("retry-after"), now) ??
    parseRetryAfter(answer.headers.get("x-ogw-ratelimit-reset"), now);
  if (typeof code === "number" && code !== 0) {
    const error = `feishu code ${code}: ${String(json?.msg ?? json?.StatusMessage ?? "")}`;
    const retry = RETRYABLE_CODES.has(code) || answer.status === 429 || answer.status >= 500;
    return { ok: false, retry, error, retryAfterMs };
  }
  const byStatus = judgeStatus(answer, now);
  if (byStatus) return { ...byStatus, error: `feishu ${byStatus.error}`, retryAfterMs };
  if (code === 0) return { ok: true };
  return { ok: false, retry: true, error: `feishu: unexpected answer: ${snippet(answer.body)}` };
}

/** Creates the channel for a `feishu`/`lark` entry. */
export function createFeishuNotifier(
  name: string,
  settings: ChannelSettings,
  options: { timeoutMs: number },
): Notifier {
  const secret = String(settings.options.secret ?? "");
  return createHttpNotifier(name, {
    request: (notification, now) => ({
      url: settings.webhookurl,
      body: JSON.stringify(feishuPayload(notification.text, { secret, now })),
    }),
    judge: judgeFeishuAnswer,
  }, options);
}
