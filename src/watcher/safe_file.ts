/**
 * Opening and deleting files that an untrusted app controls.
 *
 * The app can put anything into its dump directory: a symlink to the
 * watcher's service-account token or to another pod's core, a hard link, a
 * FIFO that would block a reader forever. So the watcher never follows a
 * symlink (`O_NOFOLLOW`), never blocks on open (`O_NONBLOCK`), refuses
 * anything but a regular file with exactly one link, and checks after
 * opening that it holds the very inode it examined.
 *
 * @module
 */

import fs from "node:fs";

/** Identity of a file as first examined. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** Why a file was refused, or undefined when it may be read. */
export function refusalReason(stat: fs.Stats): string | undefined {
  if (stat.isSymbolicLink()) return "symlink";
  if (stat.isFIFO()) return "fifo";
  if (stat.isSocket()) return "socket";
  if (stat.isBlockDevice() || stat.isCharacterDevice()) return "device";
  if (stat.isDirectory()) return "directory";
  if (!stat.isFile()) return "not a regular file";
  if (stat.nlink > 1) return "hard link";
  return undefined;
}

/** Result of {@linkcode openSafely}. */
export type OpenResult =
  | { ok: true; handle: fs.promises.FileHandle; stat: fs.Stats }
  | { ok: false; reason: string };

/**
 * Opens `path` read-only without following a final symlink or blocking,
 * and checks that it is still the regular, singly linked file `expected`.
 * Returns `{ ok: false }` with the reason when it is not; the caller logs
 * it. A vanished file gives reason `gone`.
 */
export async function openSafely(path: string, expected: FileIdentity): Promise<OpenResult> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: false, reason: "gone" };
    if (code === "ELOOP") return { ok: false, reason: "symlink" };
    throw error;
  }
  try {
    const stat = await handle.stat();
    const refused = refusalReason(stat);
    if (refused) {
      await handle.close();
      return { ok: false, reason: refused };
    }
    if (stat.dev !== expected.dev || stat.ino !== expected.ino) {
      await handle.close();
      return { ok: false, reason: "replaced while being examined" };
    }
    return { ok: true, handle, stat };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** True when `path` is still the file `expected` (same device and inode). */
export async function isStillThere(path: string, expected: FileIdentity): Promise<boolean> {
  try {
    const stat = await fs.promises.lstat(path);
    return stat.dev === expected.dev && stat.ino === expected.ino;
  } catch {
    return false;
  }
}

/**
 * Deletes `path` only if it is still the file `expected` (same device and
 * inode). Returns false when the file was replaced or is gone.
 */
export async function removeIfSame(path: string, expected: FileIdentity): Promise<boolean> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  if (stat.dev !== expected.dev || stat.ino !== expected.ino || !stat.isFile()) return false;
  await fs.promises.unlink(path);
  return true;
}
