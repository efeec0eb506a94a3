/**
 * What every chat webhook channel shares: build a request, POST it, read
 * the answer. Each API's own file (`wechat.ts`, `slack.ts`, ...) supplies
 * the two halves that differ.
 *
 * @module
 */

import type { AttemptResult, Notification, Notifier } from "./notifier.ts";
import { type HttpAnswer, judgeStatus, postJson, snippet } from "./http_post.ts";

/** One request to an API. */
export interface HttpRequest {
  /** Where to POST (the webhook URL, perhaps with a signature added). */
  url: string;
  /** JSON text. */
  body: string;
  /** Headers besides the JSON content type. */
  headers?: Record<string, string>;
}

/** The parts of a webhook channel that depend on its API. */
export interface WebhookApi {
  /** The request for `notification` at time `now` (signatures carry the time, so each attempt builds anew). */
  request(notification: Notification, now: number): HttpRequest;
  /** What the API's answer means. */
  judge(answer: HttpAnswer, now: number): AttemptResult;
}

/** Options of {@linkcode createHttpNotifier}. */
export interface HttpNotifierOptions {
  /** Longest time one request may take, ms. */
  timeoutMs: number;
}

/** A {@linkcode Notifier} that POSTs what `api` builds. */
export function createHttpNotifier(name: string, api: WebhookApi, options: HttpNotifierOptions): Notifier {
  return {
    name,
    async attempt(notification, context): Promise<AttemptResult> {
      let request: HttpRequest;
      try {
        request = api.request(notification, context.now);
      } catch (error) {
        return { ok: false, retry: false, error: `cannot build the message: ${(error as Error).message}` };
      }
      const outcome = await postJson(request.url, request.body, {
        headers: request.headers,
        timeoutMs: options.timeoutMs,
      });
      if (!outcome.ok) return { ok: false, retry: true, error: outcome.error };
      return api.judge(outcome.answer, context.now);
    },
  };
}

/** The answer body as a JSON object, or undefined when it is not one. */
export function jsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@linkcode judgeErrcodeAnswer}. */
export interface ErrcodeOptions {
  /** Name of the API in error texts, e.g. `wecom`. */
  api: string;
  /** Codes worth retrying, with how long to wait first (undefined: the usual backoff). */
  retryable: Record<number, number | undefined>;
}

/**
 * Reads an answer in the WeCom and DingTalk style: HTTP 200 with
 * `{"errcode": 0, "errmsg": "ok"}` on success and a non-zero `errcode` on
 * failure, so a 200 alone means nothing.
 */
export function judgeErrcodeAnswer(answer: HttpAnswer, now: number, options: ErrcodeOptions): AttemptResult {
  const byStatus = judgeStatus(answer, now);
  if (byStatus) return byStatus;
  const json = jsonObject(answer.body);
  if (!json || typeof json.errcode !== "number") {
    return { ok: false, retry: true, error: `${options.api}: unexpected answer: ${snippet(answer.body)}` };
  }
  if (json.errcode === 0) return { ok: true };
  const code = json.errcode;
  const error = `${options.api} errcode ${code}: ${String(json.errmsg ?? "")}`;
  if (code in options.retryable) return { ok: false, retry: true, error, retryAfterMs: options.retryable[code] };
  return { ok: false, retry: false, error };
}
