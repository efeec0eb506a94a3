/**
 * Finding stored cores by their metadata objects: which keys are metadata
 * objects, the narrowest prefix to list for a filter, which keys a filter
 * can rule out before their metadata is read, and the newest-first order.
 *
 * The key layout is the one {@linkcode buildObjectKeys} writes:
 * `<StoreDir>/<ns>/<pod>/<container>/<UTC time>-<exe>-<pid>.json`, or
 * `<StoreDir>/_unattributed/<UTC time>-...json`. The key alone carries the
 * namespace, pod, container and crash time, so `list -n NS --since 2h`
 * reads only the metadata objects that can match.
 *
 * @module
 */

import type { CrashRecord } from "./crash_record.ts";

/** What a metadata key tells without reading the object. */
export interface MetadataKey {
  key: string;
  namespace?: string;
  pod?: string;
  container?: string;
  /** Crash time from the key, ms since the epoch. */
  crashedAtMs: number;
}

/** What `coredog list` (and the ID lookup of the other verbs) keeps. */
export interface CoreFilter {
  namespace?: string;
  pod?: string;
  container?: string;
  /** Keep crashes at or after this time, ms since the epoch. */
  sinceMs?: number;
  /** Keep crashes whose crash signature equals this or starts with it. */
  signature?: string;
}

/** A metadata object read from the store. */
export interface StoredCore {
  /** The metadata object's key. */
  key: string;
  record: CrashRecord;
}

const TIME_PART = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-.+\.json$/;

/** Trims the slashes `StoreDir` may carry, as the key builder does. */
function normalizeStoreDir(storeDir: string): string {
  return storeDir.replace(/^\/+|\/+$/g, "");
}

/**
 * Parses a key below `storeDir`; undefined for anything that is not a
 * metadata object of a core (the cores themselves, other objects).
 */
export function parseMetadataKey(storeDir: string, key: string): MetadataKey | undefined {
  const base = normalizeStoreDir(storeDir);
  const rest = base ? (key.startsWith(`${base}/`) ? key.slice(base.length + 1) : undefined) : key;
  if (rest === undefined) return undefined;
  const segments = rest.split("/");
  const name = segments[segments.length - 1];
  const time = TIME_PART.exec(name);
  if (!time) return undefined;
  const [, y, mo, d, h, mi, s, ms] = time;
  const crashedAtMs = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, +ms);
  if (Number.isNaN(crashedAtMs)) return undefined;
  if (segments.length === 2 && segments[0] === "_unattributed") return { key, crashedAtMs };
  if (segments.length !== 4) return undefined;
  const [namespace, pod, container] = segments;
  return { key, namespace, pod, container: container === "_pod" ? undefined : container, crashedAtMs };
}

/** The longest key prefix that holds every core the filter can match. */
export function listingPrefix(storeDir: string, filter: CoreFilter): string {
  const base = normalizeStoreDir(storeDir);
  const parts = base ? [base] : [];
  if (filter.namespace) {
    parts.push(filter.namespace);
    if (filter.pod) {
      parts.push(filter.pod);
      if (filter.container) parts.push(filter.container);
    }
  }
  return parts.length ? `${parts.join("/")}/` : "";
}

/** False when the key alone shows that the core does not match. */
export function keyMayMatch(key: MetadataKey, filter: CoreFilter): boolean {
  if (filter.namespace !== undefined && key.namespace !== filter.namespace) return false;
  if (filter.pod !== undefined && key.pod !== filter.pod) return false;
  if (filter.container !== undefined && key.container !== filter.container) return false;
  // The key's time is the core's mtime, the record's crashedAt: the same instant.
  if (filter.sinceMs !== undefined && key.crashedAtMs < filter.sinceMs) return false;
  return true;
}

/** True when the record matches every part of the filter. */
export function recordMatches(record: CrashRecord, filter: CoreFilter): boolean {
  if (filter.namespace !== undefined && record.pod?.namespace !== filter.namespace) return false;
  if (filter.pod !== undefined && record.pod?.name !== filter.pod) return false;
  if (filter.container !== undefined && record.container?.name !== filter.container) return false;
  if (filter.sinceMs !== undefined && Date.parse(record.crashedAt) < filter.sinceMs) return false;
  if (filter.signature !== undefined) {
    const signature = signatureOf(record);
    if (!signature || !signature.startsWith(filter.signature)) return false;
  }
  return true;
}

/** Newest crash first; equal times by key, so that the order is stable. */
export function newestFirst(cores: StoredCore[]): StoredCore[] {
  return [...cores].sort((a, b) => {
    const byTime = Date.parse(b.record.crashedAt) - Date.parse(a.record.crashedAt);
    return byTime !== 0 ? byTime : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
}

/** Keys newest first, by the time in the key. */
export function keysNewestFirst(keys: MetadataKey[]): MetadataKey[] {
  return [...keys].sort((a, b) => b.crashedAtMs - a.crashedAtMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The crash signature the watcher read from the core; undefined for cores without one and older metadata. */
export function signatureOf(record: CrashRecord): string | undefined {
  return record.crash?.signature || undefined;
}

/** The id as `list` shows it: the first 12 hex digits. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** Shortest ID prefix accepted by `info`, `get` and `debug`. */
export const MIN_ID_PREFIX = 6;

/** Result of {@linkcode findCore}. */
export type FindResult =
  | { kind: "found"; core: StoredCore }
  | { kind: "none" }
  | { kind: "ambiguous"; matches: StoredCore[] };

/** The core whose id starts with `id` (or whose metadata key is `id`). */
export function findCore(cores: StoredCore[], id: string): FindResult {
  const lower = id.toLowerCase();
  const matches = cores.filter((core) => core.key === id || core.record.id?.startsWith(lower));
  if (matches.length === 0) return { kind: "none" };
  const exact = matches.find((core) => core.key === id || core.record.id === lower);
  if (exact) return { kind: "found", core: exact };
  // The watcher may store one core twice (a repeated upload after a restart); same id, same core.
  if (new Set(matches.map((core) => core.record.id)).size === 1) return { kind: "found", core: matches[0] };
  return { kind: "ambiguous", matches };
}

/**
 * Parses `--since`: a duration back from `nowMs` (`90s`, `30m`, `2h`,
 * `7d`, `1h30m`) or an ISO 8601 time; undefined when it is neither.
 */
export function parseSince(text: string, nowMs: number): number | undefined {
  const duration = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (duration && text.trim() !== "") {
    const [, d, h, m, s] = duration.map((part) => Number(part ?? 0));
    return nowMs - (((d * 24 + h) * 60 + m) * 60 + s) * 1000;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
