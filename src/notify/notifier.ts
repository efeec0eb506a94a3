/**
 * The interface between the pipeline and the notification channels.
 *
 * @module
 */

import type { CrashRecord } from "../core/crash_record.ts";

/** One message for one channel. */
export interface Notification {
  /** The channel's template rendered for this crash. */
  text: string;
  record: CrashRecord;
}

/** A notification channel. */
export interface Notifier {
  /** For logs and metrics, e.g. `console` or `wechat#1`. */
  readonly name: string;
  /** Delivers one message; rejects when the channel did not accept it. */
  send(notification: Notification): Promise<void>;
}
