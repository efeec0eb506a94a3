/**
 * One JSON POST to a chat API, with a timeout, returning what came back
 * instead of throwing, and with the webhook's secret token kept out of
 * error texts (the URL is the credential for every chat robot).
 *
 * @module
 */

import { type FailedAttempt, parseRetryAfter } from "../core/retry_policy.ts";

/** What the API answered. */
export interface HttpAnswer {
  /** HTTP status. */
  status: number;
  /** Response headers (`Retry-After`...). */
  headers: Headers;
  /** The body as text (the first 64 KiB). */
  body: string;
}

/** The answer, or why there was none (connection refused, timeout...). */
export type PostOutcome = { ok: true; answer: HttpAnswer } | { ok: false; error: string };

/** Options of {@linkcode postJson}. */
export interface PostOptions {
  /** Headers besides the JSON content type. */
  headers?: Record<string, string>;
  /** The whole exchange, body included, must finish within this many ms. */
  timeoutMs: number;
}

const MAX_BODY_CHARS = 64 * 1024;

/** POSTs `body` (JSON text) to `url`. */
export async function postJson(url: string, body: string, options: PostOptions): Promise<PostOutcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", ...options.headers },
      body,
      signal: controller.signal,
    });
    const text = await response.text();
    return {
      ok: true,
      answer: { status: response.status, headers: response.headers, body: text.slice(0, MAX_BODY_CHARS) },
    };
  } catch (error) {
    // fetch says only "fetch failed"; the reason (refused, DNS, TLS) is in its cause.
    const cause = (error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : "";
    const message = controller.signal.aborted
      ? `no answer within ${options.timeoutMs} ms`
      : `${(error as Error).message}${cause}`;
    return { ok: false, error: redactUrl(message, url) };
  } finally {
    clearTimeout(timer);
  }
}

/** Replaces `url` in `text` by its origin, hiding the path and query that carry the robot's key. */
function redactUrl(text: string, url: string): string {
  let origin = "the webhook";
  try {
    origin = `${new URL(url).origin}/...`;
  } catch {
    // keep the placeholder
  }
  return text.split(url).join(origin);
}

/**
 * Judges an answer by its HTTP status alone: undefined for 2xx (the
 * caller reads the body), a retryable error for 408, 425, 429 and 5xx
 * (with `Retry-After` when given), a final error for other statuses.
 */
export function judgeStatus(answer: HttpAnswer, now: number): FailedAttempt | undefined {
  if (answer.status >= 200 && answer.status < 300) return undefined;
  const retry = answer.status === 408 || answer.status === 425 || answer.status === 429 || answer.status >= 500;
  return {
    ok: false,
    retry,
    error: `HTTP ${answer.status}: ${snippet(answer.body)}`,
    retryAfterMs: parseRetryAfter(answer.headers.get("retry-after"), now),
  };
}

/** The start of an answer body, on one line, for a log field. */
export function snippet(body: string): string {
  const line = body.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 300)}...` : line || "(empty body)";
}
