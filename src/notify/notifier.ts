/**
 * The interface between the dispatcher and the notification channels.
 *
 * A channel only knows its API: how to turn a message into one request
 * and how to read the answer. Queueing, rate limits, retries and giving up
 * are the dispatcher's, so that every channel behaves the same under an
 * outage.
 *
 * @module
 */

import type { SignatureDigest } from "../core/crash_digest.ts";
import type { CrashLoopDigest } from "../core/crash_loop.ts";
import type { CrashRecord } from "../core/crash_record.ts";
import type { AttemptResult } from "../core/retry_policy.ts";

export type { AttemptResult } from "../core/retry_policy.ts";

/** One message for one channel. */
export interface Notification {
  /** `crash`: one core; `digest`: the repeats of a crash loop or of a crash signature, summed up. */
  kind: "crash" | "digest";
  /** The channel's template rendered for this crash, or the digest text. */
  text: string;
  /** The crash; for a digest, the latest repeat. */
  record: CrashRecord;
  /** The repeats, for a crash-loop digest. */
  digest?: CrashLoopDigest;
  /** The folded crashes across nodes, for a crash-signature digest. */
  signatureDigest?: SignatureDigest;
}

/** What an attempt may need besides the message. */
export interface AttemptContext {
  /** Current time, ms since the epoch (signatures carry it). */
  now: number;
}

/** A notification channel. */
export interface Notifier {
  /** For logs and metrics, e.g. `console#0` or `wechat#1`. */
  readonly name: string;
  /** Makes one delivery attempt and reports what the API said; never rejects. */
  attempt(notification: Notification, context: AttemptContext): Promise<AttemptResult>;
}
