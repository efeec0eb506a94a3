/**
 * Sends each stored core's notification once, and remembers it as sent in
 * the ledger only when every channel is done with it (delivered, given up,
 * filtered or folded into a crash-loop digest). A restart before then, or a
 * shutdown that interrupts its delivery, sends it again: a duplicate message
 * is better than a missing one.
 *
 * @module
 */

import type { CrashRecord } from "../core/crash_record.ts";
import type { Logger } from "../log.ts";
import type { Dispatcher } from "../notify/mod.ts";
import type { Ledger, LedgerEntry } from "./ledger.ts";
import { isStillThere } from "./safe_file.ts";

/** Tracks notifications still in flight. */
export class NotifyTracker {
  #pending = new Map<string, Promise<void>>();
  #dispatcher: Dispatcher;
  #ledger: Ledger;
  #logger: Logger;

  constructor(dispatcher: Dispatcher, options: { ledger: Ledger; logger: Logger }) {
    this.#dispatcher = dispatcher;
    this.#ledger = options.ledger;
    this.#logger = options.logger;
  }

  /** Publishes `entry`'s record unless it is already in flight. */
  publish(entry: LedgerEntry, deletedLocal: boolean): void {
    if (this.#pending.has(entry.id)) return;
    const done = this.#dispatcher.publish({ ...entry.record, deletedLocal })
      .then((settled) => settled ? this.#remember(entry) : undefined)
      .catch((error) => {
        this.#logger.error("cannot record the notification in the ledger", {
          key: entry.key,
          error: (error as Error).message,
        });
      })
      .finally(() => this.#pending.delete(entry.id));
    this.#pending.set(entry.id, done);
  }

  /** Announces a record that has no ledger entry (a core that was not stored). */
  announce(record: CrashRecord): void {
    const done = this.#dispatcher.publish(record).then(() => {});
    const key = `announce:${record.id}`;
    this.#pending.set(key, done.finally(() => this.#pending.delete(key)));
  }

  /** Resolves when every notification in flight has been settled and recorded. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending.values());
  }

  /** Once notified, an entry is kept only while its local file is (it stops a second upload). */
  async #remember(entry: LedgerEntry): Promise<void> {
    if (await isStillThere(entry.path, entry)) await this.#ledger.put({ ...entry, notified: true });
    else await this.#ledger.forget(entry.id);
  }
}
