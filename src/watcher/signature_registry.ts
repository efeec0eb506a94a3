/**
 * Cross-node crash-signature state in the object store the cores go to, so
 * that every watcher knows whether a signature is new, how often it was
 * seen, and which crashes fold into a digest, without a server of its own.
 *
 * Per signature, under `<StoreDir>/_signatures/<signature>/` (an underscore, like `_unattributed`:
 * no namespace can be named so, so the state never mixes with a namespace's cores):
 * - `first.json`, created with a conditional write (`If-None-Match: *`):
 *   the one watcher whose write succeeds reports "new crash";
 * - `seen/<time>_<node>_<namespace>~<pod>_<core id>`, one small marker per
 *   core, whose listing gives the count, the pods, the nodes and the first
 *   time;
 * - `windows/<window start>.claim.json`, created with a conditional write
 *   by the watcher that sends the window's digest (see
 *   `core/crash_digest.ts`), and `windows/<window start>.sent.json`, written
 *   by it just before it lists the window's markers;
 * - `notified/<core id>`, one per core that got a message of its own, so
 *   that the digest leaves it out.
 *
 * Stores without conditional writes (they overwrite instead of answering
 * 412) are detected once with a probe object; there, "new" falls back to
 * "my marker is the earliest in the listing" and the claim to "my marker is
 * the earliest of the window", which two watchers racing within the
 * store's listing delay can both believe.
 *
 * @module
 */

import { groupVerdict, markerName, type Occurrence, parseMarker, sightingOf, windowOf } from "../core/crash_digest.ts";
import type { CrashRecord, DigestWindow, SignatureSighting } from "../core/crash_record.ts";
import type { CoredogConfig } from "../core/config.ts";
import type { Storage } from "../storage/storage.ts";

/** Markers listed at most per signature; counts stop there. */
const MAX_LISTED_MARKERS = 10_000;

const SIGNATURE = /^[0-9a-f]{16}$/;

/** Options of {@linkcode SignatureRegistry}. */
export interface SignatureRegistryOptions {
  /** `StorageConfig.StoreDir`. */
  storeDir: string;
  /** Digest window length, ms (`CrashLoop.WindowMinutes`); absent: no grouping, every core gets a message. */
  windowMs?: number;
}

/** What a window's digest folds, read from the store at the window's end. */
export interface WindowContents {
  /** Cores of the window without a message of their own, oldest first. */
  occurrences: Occurrence[];
  /** The signature's counts over all time. */
  totals: SignatureSighting;
}

/** Reads and records sightings of crash signatures. */
export class SignatureRegistry {
  #storage: Storage;
  #prefix: string;
  #windowMs?: number;
  #conditional?: Promise<boolean>;

  /** A registry in `storage` under `options.storeDir`. */
  constructor(storage: Storage, options: SignatureRegistryOptions) {
    this.#storage = storage;
    this.#prefix = `${options.storeDir.replace(/\/+$/, "")}/_signatures`;
    this.#windowMs = options.windowMs;
  }

  /** True when the store refuses to overwrite with `If-None-Match: *` (probed once). */
  conditionalWrites(): Promise<boolean> {
    this.#conditional ??= (async () => {
      // One probe object for the whole store: a store that honours the condition refuses the second write
      // whether or not the first created it, one that ignores it accepts both. So nothing piles up per start.
      const probe = `${this.#prefix}/.probe`;
      await this.#storage.createJsonIfAbsent(probe, { probe: true });
      return !(await this.#storage.createJsonIfAbsent(probe, { probe: true }));
    })();
    return this.#conditional;
  }

  /**
   * Records `record`'s core under its signature, says how often it was seen
   * and, with grouping on, whether it gets a message now or folds into the
   * window's digest; undefined without a signature.
   */
  async observe(
    record: Pick<CrashRecord, "id" | "crash" | "crashedAt" | "node" | "pod">,
  ): Promise<SignatureSighting | undefined> {
    const signature = record.crash?.signature;
    if (!signature || !SIGNATURE.test(signature)) return undefined;
    const base = `${this.#prefix}/${signature}`;
    const marker = markerName(record);
    await this.#storage.putJson(`${base}/seen/${marker}`, {
      id: record.id,
      node: record.node.name,
      namespace: record.pod.namespace,
      pod: record.pod.name,
      site: record.crash?.site,
    });
    let first = await this.#storage.createJsonIfAbsent(`${base}/first.json`, {
      signature,
      site: record.crash?.site,
      firstCore: record.id,
      since: record.crashedAt,
    });
    const names = await this.#markers(base);
    const conditional = await this.conditionalWrites();
    if (!conditional) first = names[0] === marker;
    const occurrences = names.map(parseMarker).filter((o) => o !== undefined);
    const sighting = sightingOf(occurrences, first);
    sighting.since ||= record.crashedAt;
    sighting.count ||= 1;
    sighting.pods ||= 1;
    sighting.nodes ||= 1;
    if (this.#windowMs === undefined) return sighting;

    const window = windowOf(Date.parse(record.crashedAt), this.#windowMs);
    const windowKey = `${base}/windows/${compactTime(window.start)}`;
    let claimant = await this.#storage.createJsonIfAbsent(`${windowKey}.claim.json`, {
      node: record.node.name,
      core: record.id,
      window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
    });
    if (!conditional) {
      claimant = occurrences.find((o) => inWindow(o, window))?.core === record.id.slice(0, 12);
    }
    const digestSent = !claimant && (await this.#storage.size(`${windowKey}.sent.json`)) !== undefined;
    const verdict = groupVerdict({ first, claimant, sinceMs: Date.parse(sighting.since), window, digestSent });
    if (verdict === "notify") await this.#storage.putJson(`${base}/notified/${record.id.slice(0, 12)}`, {});
    sighting.group = { verdict, window, claimant };
    return sighting;
  }

  /**
   * For the claimant at the window's end: marks the digest as sent (a core
   * recorded after this gets a message of its own), then lists the
   * window's cores that had none.
   */
  async windowContents(signature: string, window: DigestWindow): Promise<WindowContents> {
    if (!SIGNATURE.test(signature)) throw new Error(`"${signature}" is not a crash signature (16 hex digits)`);
    const base = `${this.#prefix}/${signature}`;
    await this.#storage.putJson(`${base}/windows/${compactTime(window.start)}.sent.json`, {
      sentAt: new Date().toISOString(),
    });
    const names = await this.#markers(base);
    const notifiedKeys = await this.#storage.listKeys(`${base}/notified/`, MAX_LISTED_MARKERS);
    const notified = new Set(notifiedKeys.map(lastSegment));
    const all = names.map(parseMarker).filter((o) => o !== undefined);
    return {
      occurrences: all.filter((o) => inWindow(o, window) && !notified.has(o.core)),
      totals: sightingOf(all, false),
    };
  }

  async #markers(base: string): Promise<string[]> {
    const keys = await this.#storage.listKeys(`${base}/seen/`, MAX_LISTED_MARKERS);
    return keys.map(lastSegment);
  }
}

/** One registry per store and settings, shared by the pipeline and the dispatcher's digests. */
const registries = new WeakMap<Storage, Map<string, SignatureRegistry>>();

/** The registry of `storage` with `options`, created on first use. */
export function signatureRegistryFor(storage: Storage, options: SignatureRegistryOptions): SignatureRegistry {
  let byOptions = registries.get(storage);
  if (!byOptions) {
    byOptions = new Map();
    registries.set(storage, byOptions);
  }
  const key = `${options.storeDir}|${options.windowMs ?? "-"}`;
  let registry = byOptions.get(key);
  if (!registry) {
    registry = new SignatureRegistry(storage, options);
    byOptions.set(key, registry);
  }
  return registry;
}

/** The registry's options from the configuration: grouping follows `CrashLoop` (on, and its window). */
export function signatureOptions(config: Pick<CoredogConfig, "storage" | "crashLoop">): SignatureRegistryOptions {
  return {
    storeDir: config.storage.storeDir,
    windowMs: config.crashLoop.enabled ? config.crashLoop.windowMs : undefined,
  };
}

function inWindow(occurrence: Occurrence, window: DigestWindow): boolean {
  const time = Date.parse(occurrence.crashedAt);
  return time >= window.start && time < window.end;
}

function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

/** `2026-12-01T09:10:00.000Z` as `20261201T091000.000Z`, the marker's spelling. */
function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "");
}
