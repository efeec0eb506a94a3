/**
 * The crash-signature digests this watcher owes: for each window whose
 * claim it won (`watcher/signature_registry.ts`), it waits until the window
 * has ended and the other nodes had time to record their cores, reads what
 * the window folded, and hands the digest to the channels.
 *
 * One timer per dispatcher, not per channel: the store is read once per
 * window and each channel then takes its share.
 *
 * @module
 */

import type { SignatureDigest } from "../core/crash_digest.ts";
import type { CrashRecord, DigestWindow } from "../core/crash_record.ts";
import type { Logger } from "../log.ts";
import type { Counter } from "../metrics.ts";
import type { Clock } from "./clock.ts";

/** Reads a window's folded cores from the store (the watcher's signature registry). */
export interface DigestSource {
  windowContents(
    signature: string,
    window: DigestWindow,
  ): Promise<Pick<SignatureDigest, "occurrences" | "totals">>;
}

/** Options of {@linkcode SignatureDigestTimer}. */
export interface SignatureDigestTimerOptions {
  clock: Clock;
  logger: Logger;
  source: DigestSource;
  /** Windows whose store could not be read. */
  metrics: { failed: Counter };
  /** Sends a digest to every channel that takes it. */
  deliver: (digest: SignatureDigest) => void;
}

/** Longest wait after a window's end for other nodes' uploads to be recorded, ms. */
const MAX_GRACE_MS = 30_000;

/** Time after the window's end before the digest is read: a tenth of the window, at most 30 s. */
function digestGraceMs(window: DigestWindow): number {
  return Math.min(MAX_GRACE_MS, Math.round((window.end - window.start) / 10));
}

/** Sends the digests of the windows this watcher claimed, when they are due. */
export class SignatureDigestTimer {
  #options: SignatureDigestTimerOptions;
  #pending = new Map<string, { abort: AbortController; run: () => Promise<void> }>();
  #running = new Set<Promise<void>>();

  /** A timer reading windows from `options.source`. */
  constructor(options: SignatureDigestTimerOptions) {
    this.#options = options;
  }

  /** Schedules the digest of `record`'s window when its watcher claimed it; once per window. */
  arm(record: CrashRecord): void {
    const group = record.sighting?.group;
    const signature = record.crash?.signature;
    if (!group?.claimant || !signature) return;
    const key = `${signature}@${group.window.start}`;
    if (this.#pending.has(key)) return;
    const { clock } = this.#options;
    const abort = new AbortController();
    const run = () => {
      this.#pending.delete(key);
      return this.#send(signature, group.window, record);
    };
    this.#pending.set(key, { abort, run });
    const due = group.window.end + digestGraceMs(group.window);
    clock.sleep(Math.max(0, due - clock.now()), abort.signal).then(() => this.#track(run()), () => {
      // Cancelled by flush(), which runs it now.
    });
  }

  /** At shutdown: sends every owed digest now, with what the store holds so far. */
  async flush(): Promise<void> {
    for (const { abort, run } of [...this.#pending.values()]) {
      abort.abort();
      this.#track(run());
    }
    await this.idle();
  }

  /** Resolves when no digest is being read (for tests). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  #track(running: Promise<void>): void {
    this.#running.add(running);
    running.finally(() => this.#running.delete(running));
  }

  async #send(signature: string, window: DigestWindow, record: CrashRecord): Promise<void> {
    const { logger, source, metrics, deliver } = this.#options;
    try {
      const contents = await source.windowContents(signature, window);
      if (contents.occurrences.length === 0) {
        logger.debug("crash signature window ended without repeats", { signature });
        return;
      }
      deliver({ signature, window, record, ...contents });
    } catch (error) {
      metrics.failed.inc({ channel: "signature-digest" });
      logger.error("cannot read the crash signature digest from the store; its repeats get no message", {
        signature,
        error: (error as Error).message,
      });
    }
  }
}
