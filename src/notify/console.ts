/**
 * The `console` channel: prints each message to standard output, for local
 * use and for clusters that collect logs rather than chat messages.
 *
 * @module
 */

import type { AttemptResult, Notification, Notifier } from "./notifier.ts";

/** Creates the console channel; `write` receives each message (stdout by default). */
export function createConsoleNotifier(
  name: string,
  options: { write?: (text: string) => void } = {},
): Notifier {
  const write = options.write ?? ((text: string) => console.log(text));
  return {
    name,
    attempt(notification: Notification): Promise<AttemptResult> {
      const rule = "-".repeat(60);
      write(`${rule}\n${notification.text}\n${rule}`);
      return Promise.resolve({ ok: true });
    },
  };
}
