/**
 * When is a core file complete? The kernel writes a core piece by piece,
 * seeks over holes, sets the final size last, then closes the file. A
 * watcher sees the partial file long before that, so a file is ready only
 * when:
 *
 * - it was closed after its last write (an `access` event from inotify's
 *   IN_CLOSE_WRITE) and its size and mtime then stayed unchanged for the
 *   settle time; or, when no close event was seen (events are dropped under
 *   load, and files found by a scan have none), its last write is older
 *   than the quiet time and it did not change between two looks;
 * - and, for an ELF core, it is as long as its program headers promise.
 *   A core that stays shorter (a kill during the dump, a full disk) is
 *   ready only after the truncation timeout, and is then marked truncated.
 *
 * Pure: the watcher feeds in what `stat` said and when.
 *
 * @module
 */

/** What the watcher last knew about a candidate file. */
export interface CandidateState {
  size: number;
  mtimeMs: number;
  /** When (watcher clock, ms) the current size and mtime were first seen. */
  stableSince: number;
  /** When a close-after-write event for the file was last seen. */
  closedAt?: number;
  /** Size the ELF program headers promise; undefined until read or for non-ELF files. */
  expectedBytes?: number;
}

/** Timing settings, from the `Watcher` configuration section. */
export interface ReadinessSettings {
  settleMs: number;
  quietMs: number;
  truncatedAfterMs: number;
}

/** The verdict on one candidate. */
export type Readiness =
  | { ready: false; reason: "changing" | "settling" | "quiet-wait" | "short" }
  | { ready: true; truncated: boolean };

/**
 * Updates a candidate with a fresh `stat`: a changed size or mtime restarts
 * the settle clock and forgets the ELF size check (headers may have been
 * rewritten).
 */
export function observe(
  previous: CandidateState | undefined,
  stat: { size: number; mtimeMs: number },
  now: number,
): CandidateState {
  if (previous && previous.size === stat.size && previous.mtimeMs === stat.mtimeMs) return previous;
  return {
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    stableSince: now,
    closedAt: previous?.closedAt,
  };
}

/** Records a close-after-write event. */
export function markClosed(state: CandidateState, now: number): CandidateState {
  return { ...state, closedAt: now };
}

/** Decides whether the candidate can be processed now. */
export function assessReadiness(state: CandidateState, now: number, settings: ReadinessSettings): Readiness {
  const unchangedFor = now - state.stableSince;
  const sinceWrite = now - state.mtimeMs;
  if (unchangedFor < settings.settleMs) {
    return { ready: false, reason: state.stableSince === now ? "changing" : "settling" };
  }
  if (state.expectedBytes !== undefined && state.size < state.expectedBytes) {
    if (sinceWrite >= settings.truncatedAfterMs) {
      return { ready: true, truncated: true };
    }
    return { ready: false, reason: "short" };
  }
  // The close event counts only if it came after the last write; a later
  // write (a reopened file) moves the mtime past it.
  const closedAfterLastWrite = state.closedAt !== undefined && state.closedAt >= state.mtimeMs;
  if (closedAfterLastWrite) return { ready: true, truncated: false };
  if (sinceWrite >= settings.quietMs) return { ready: true, truncated: false };
  return { ready: false, reason: "quiet-wait" };
}
