/**
 * One watcher per CorefileDir. Two watchers on one root (a second DaemonSet,
 * a debugging copy, a rolling update that overlaps) would upload cores
 * twice and could delete a file the other is still reading. An exclusive
 * `flock` on a file in the state directory keeps the second one waiting
 * until the first is gone; the kernel drops the lock when its holder dies,
 * so a killed watcher never leaves a stale lock.
 *
 * @module
 */

import { join } from "node:path";
import type { Logger } from "../log.ts";

/** How often a waiting watcher tries again, ms. */
const RETRY_MS = 1000;

/** A held lock; close it to release. */
export interface RootLock {
  release(): void;
}

/**
 * Takes the lock on `stateDir`, waiting (and saying so once) while another
 * watcher holds it.
 */
export async function acquireRootLock(
  stateDir: string,
  options: { logger: Logger; holder: string },
): Promise<RootLock> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, "watcher.lock");
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let announced = false;
  while (!(await file.tryLock(true))) {
    if (!announced) {
      const current = await Deno.readTextFile(path).catch(() => "");
      options.logger.warn("another watcher is running on CorefileDir; waiting until it stops", {
        lock: path,
        holder: current.trim() || "unknown",
      });
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${options.holder}\n`));
  if (announced) options.logger.info("took over CorefileDir", { lock: path });
  return {
    release() {
      try {
        file.close();
      } catch {
        // already closed
      }
    },
  };
}
