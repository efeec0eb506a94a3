/**
 * The per-container cap for crash loops: the first N cores of a container
 * within an hour are stored, later ones are counted and reported but not
 * stored, so that a container crashing every few seconds cannot fill the
 * node or the bucket.
 *
 * @module
 */

/** One hour, the cap's window. */
const CAP_WINDOW_MS = 60 * 60 * 1000;

/** Counts stored cores per container over a sliding hour. */
export class ContainerCap {
  #limit: number;
  #stored = new Map<string, number[]>();

  /** `limit` cores per container per hour; 0 means no cap. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Whether one more core of `container` (e.g. `ns/pod/app`) may be stored
   * at `now`; counts it when so.
   */
  admit(container: string, now: number): boolean {
    if (this.#limit <= 0) return true;
    const recent = (this.#stored.get(container) ?? []).filter((t) => now - t < CAP_WINDOW_MS);
    if (recent.length >= this.#limit) {
      this.#stored.set(container, recent);
      return false;
    }
    recent.push(now);
    this.#stored.set(container, recent);
    return true;
  }

  /** Forgets containers with nothing in the window (keeps memory bounded). */
  prune(now: number): void {
    for (const [container, times] of this.#stored) {
      if (times.every((t) => now - t >= CAP_WINDOW_MS)) this.#stored.delete(container);
    }
  }
}
