/**
 * The `slack` channel: a Slack incoming webhook
 * (`https://hooks.slack.com/services/...`).
 *
 * The message goes in a `section` block (mrkdwn, at most 3000 characters)
 * with a link to the core underneath, and again in `text`, the plain
 * fallback that notifications and old clients show. Slack answers `ok`
 * with 200, a plain-text error code (`invalid_payload`, `channel_not_found`)
 * with 4xx, and 429 with `Retry-After` beyond about one message a second.
 *
 * @module
 */

import type { ChannelSettings } from "../core/channel_settings.ts";
import type { RateRule } from "../core/rate_limit.ts";
import { truncateText, utf16Units } from "../core/text_limit.ts";
import { createHttpNotifier } from "./http_notifier.ts";
import { type HttpAnswer, judgeStatus } from "./http_post.ts";
import type { AttemptResult, Notification, Notifier } from "./notifier.ts";

/** Characters in a section block's text (and in the fallback text, kept alike). */
const SLACK_SECTION_LIMIT = 3000;

/** About one message a second per webhook. */
export const SLACK_RATE: RateRule[] = [{ limit: 1, windowMs: 1000 }];

/** Escapes the three characters Slack's mrkdwn treats as markup. */
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fit(text: string): string {
  // Slack counts the text as sent, entities included, so measure it escaped.
  return slackEscape(truncateText(text, SLACK_SECTION_LIMIT, { measure: (s) => utf16Units(slackEscape(s)) }));
}

/** The request body for `notification`. */
function slackPayload(notification: Notification): Record<string, unknown> {
  const text = fit(notification.text);
  const blocks: Record<string, unknown>[] = [{ type: "section", text: { type: "mrkdwn", text } }];
  const url = notification.record.storage.url;
  const link = /^https?:\/\//.test(url) && !/[|<>]/.test(url) ? `<${url}|Download the core>` : "";
  if (notification.kind === "crash" && link && link.length <= SLACK_SECTION_LIMIT) {
    blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: link }] });
  }
  return { text, blocks };
}

/** Reads Slack's answer: 2xx is accepted; 429 and 5xx are retried; other errors are final. */
function judgeSlackAnswer(answer: HttpAnswer, now: number): AttemptResult {
  const byStatus = judgeStatus(answer, now);
  if (byStatus) return { ...byStatus, error: `slack ${byStatus.error}` };
  return { ok: true };
}

/** Creates the channel for a `slack` entry. */
export function createSlackNotifier(name: string, settings: ChannelSettings, options: { timeoutMs: number }): Notifier {
  return createHttpNotifier(name, {
    request: (notification) => ({ url: settings.webhookurl, body: JSON.stringify(slackPayload(notification)) }),
    judge: judgeSlackAnswer,
  }, options);
}
