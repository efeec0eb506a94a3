/**
 * The `webhook` channel: a JSON POST of the whole crash record to the
 * user's own system, optionally signed.
 *
 * Body: `{"event": "core_dump" | "crash_loop", "text", "record", "digest"?}`.
 * Headers: `X-CoreDog-Event`, `X-CoreDog-Delivery` (the same for every
 * retry of one message, so the receiver can drop duplicates) and, with a
 * secret, `X-CoreDog-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
 * Any 2xx is success; 408, 425, 429 and 5xx are retried, honouring
 * `Retry-After`.
 *
 * @module
 */

import { createHmac } from "node:crypto";
import type { ChannelSettings } from "../core/channel_settings.ts";
import { VERSION } from "../version.ts";
import { createHttpNotifier } from "./http_notifier.ts";
import { type HttpAnswer, judgeStatus } from "./http_post.ts";
import type { AttemptResult, Notification, Notifier } from "./notifier.ts";

/** The signature header. */
const SIGNATURE_HEADER = "X-CoreDog-Signature";

/** `sha256=<hex HMAC-SHA256(secret, body)>`. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The JSON body for `notification`. */
function webhookBody(notification: Notification): string {
  const payload: Record<string, unknown> = {
    event: notification.kind === "digest" ? "crash_loop" : "core_dump",
    text: notification.text,
    record: notification.record,
  };
  const digest = notification.digest;
  if (digest) {
    payload.digest = {
      count: digest.count,
      periodStart: new Date(digest.periodStart).toISOString(),
      periodEnd: new Date(digest.periodEnd).toISOString(),
      records: digest.repeats,
    };
  }
  return JSON.stringify(payload);
}

/** The headers for `body`: the user's, then CoreDog's, which replace any of the same name. */
function webhookHeaders(
  notification: Notification,
  body: string,
  options: { secret?: string; headers?: Record<string, string> },
): Record<string, string> {
  const own: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "user-agent": `CoreDog/${VERSION}`,
    "x-coredog-event": notification.kind === "digest" ? "crash_loop" : "core_dump",
    "x-coredog-delivery": notification.kind === "digest"
      ? `${notification.record.id}-loop-${notification.digest?.periodEnd ?? 0}`
      : notification.record.id,
  };
  if (options.secret) own[SIGNATURE_HEADER.toLowerCase()] = webhookSignature(options.secret, body);
  // Header names are case-insensitive; two spellings of one name would be sent joined by a comma.
  const user = Object.entries(options.headers ?? {}).filter(([name]) => !(name.toLowerCase() in own));
  return { ...Object.fromEntries(user), ...own };
}

/** Reads the answer: any 2xx is accepted. */
function judgeWebhookAnswer(answer: HttpAnswer, now: number): AttemptResult {
  const byStatus = judgeStatus(answer, now);
  if (byStatus) return { ...byStatus, error: `webhook ${byStatus.error}` };
  return { ok: true };
}

/** Creates the channel for a `webhook` entry. */
export function createGenericWebhookNotifier(
  name: string,
  settings: ChannelSettings,
  options: { timeoutMs: number },
): Notifier {
  const secret = String(settings.options.secret ?? "");
  const headers = (settings.options.headers as Record<string, string> | undefined) ?? {};
  return createHttpNotifier(name, {
    request(notification) {
      const body = webhookBody(notification);
      return { url: settings.webhookurl, body, headers: webhookHeaders(notification, body, { secret, headers }) };
    },
    judge: judgeWebhookAnswer,
  }, options);
}
