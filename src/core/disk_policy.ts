/**
 * The disk guard's decisions, in the spirit of systemd-coredump's `MaxUse=`
 * and `KeepFree=`:
 *
 * - over `MaxUse` (CorefileDir's total) or under `KeepFree` (free space on
 *   its file system), local copies that are already stored go first, oldest
 *   first;
 * - cores not yet stored are kept while the node has room, even over
 *   `MaxUse`;
 * - only when free space would still stay under `KeepFree` are cores not yet
 *   stored dropped, newest first (the first crash of a series is usually the
 *   one that explains it).
 *
 * Pure: the watcher passes in what `statfs` and its own bookkeeping say.
 *
 * @module
 */

/** A core on the node. */
export interface LocalCore {
  path: string;
  /** Bytes it occupies on disk (allocated blocks: cores are sparse). */
  diskBytes: number;
  mtimeMs: number;
  /** True when its upload was verified and this is a kept local copy. */
  stored: boolean;
  /** True while it is being uploaded: never dropped under the uploader's feet. */
  busy: boolean;
}

/** The limits in bytes; undefined means no limit. */
export interface DiskLimits {
  maxUseBytes?: number;
  keepFreeBytes?: number;
}

/** What to delete, and why. */
export interface DiskActions<T extends LocalCore = LocalCore> {
  /** Stored copies to delete (oldest first). */
  evict: T[];
  /** Cores not yet stored to drop (newest first): the node would run out otherwise. */
  drop: T[];
  /** True when CorefileDir stays over `MaxUse` with cores not yet stored (kept while there is room). */
  overMaxUse: boolean;
}

/** Decides what to delete so that CorefileDir and its file system stay within `limits`. */
export function planDiskActions<T extends LocalCore>(
  cores: T[],
  state: { usedBytes: number; freeBytes: number; limits: DiskLimits },
): DiskActions<T> {
  const { maxUseBytes, keepFreeBytes } = state.limits;
  let used = state.usedBytes;
  let free = state.freeBytes;
  const overUse = () => maxUseBytes !== undefined && used > maxUseBytes;
  const underFree = () => keepFreeBytes !== undefined && free < keepFreeBytes;
  const evict: T[] = [];
  const drop: T[] = [];
  const stored = cores.filter((c) => c.stored && !c.busy).sort((a, b) => a.mtimeMs - b.mtimeMs);
  for (const core of stored) {
    if (!overUse() && !underFree()) break;
    evict.push(core);
    used -= core.diskBytes;
    free += core.diskBytes;
  }
  const pending = cores.filter((c) => !c.stored && !c.busy).sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const core of pending) {
    if (!underFree()) break;
    drop.push(core);
    used -= core.diskBytes;
    free += core.diskBytes;
  }
  return { evict, drop, overMaxUse: overUse() };
}
