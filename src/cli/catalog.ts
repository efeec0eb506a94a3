/**
 * The stored cores a command asks about: lists the narrowest prefix,
 * rules out keys by what they carry (namespace, pod, container, time),
 * and reads only the metadata objects left, several at a time.
 *
 * @module
 */

import {
  type CoreFilter,
  findCore,
  keyMayMatch,
  keysNewestFirst,
  listingPrefix,
  type MetadataKey,
  MIN_ID_PREFIX,
  newestFirst,
  parseMetadataKey,
  recordMatches,
  shortId,
  type StoredCore,
} from "../core/core_listing.ts";
import type { CrashRecord } from "../core/crash_record.ts";
import { UsageError } from "./args.ts";
import { type MetadataCache, NO_CACHE } from "./metadata_cache.ts";
import type { StoreReader } from "./store_reader.ts";

/** Metadata objects read at once: enough to hide a store's latency, few enough to be polite. */
export const READ_CONCURRENCY = 32;

/** Options of {@linkcode findCores}. */
export interface FindCoresOptions {
  /** Keep at most this many, the newest. */
  limit?: number;
  /** Records already read; {@linkcode NO_CACHE} by default. */
  cache?: MetadataCache;
}

/** The cores matching `filter`, newest first. */
export async function findCores(
  reader: StoreReader,
  storeDir: string,
  filter: CoreFilter & FindCoresOptions,
): Promise<StoredCore[]> {
  const cache = filter.cache ?? NO_CACHE;
  const prefix = listingPrefix(storeDir, filter);
  const candidates: MetadataKey[] = [];
  const tags = new Map<string, string>();
  for await (const object of reader.list(prefix)) {
    const parsed = parseMetadataKey(storeDir, object.key);
    if (!parsed) continue;
    tags.set(object.key, object.tag);
    if (keyMayMatch(parsed, filter)) candidates.push(parsed);
  }
  cache.prune(prefix, new Set(tags.keys()));
  const ordered = keysNewestFirst(candidates);
  const found: StoredCore[] = [];
  const limit = filter.limit ?? Infinity;
  // In newest-first batches, so that `--limit` reads only about as many objects as it shows.
  for (let start = 0; start < ordered.length && found.length < limit; start += READ_CONCURRENCY) {
    const batch = ordered.slice(start, start + READ_CONCURRENCY);
    const records = await Promise.all(batch.map(async ({ key }) => {
      const tag = tags.get(key)!;
      const cached = cache.get(key, tag);
      if (cached) return cached;
      const record = await readRecord(reader, key);
      if (record) cache.put(key, tag, record);
      return record;
    }));
    for (const [i, record] of records.entries()) {
      if (record && recordMatches(record, filter)) found.push({ key: batch[i].key, record });
    }
  }
  await cache.save();
  return newestFirst(found).slice(0, limit);
}

/**
 * The one core whose id starts with `id` (at least {@linkcode MIN_ID_PREFIX}
 * hex digits) or whose metadata key is `id`.
 *
 * @throws {UsageError} for an id that is too short or matches several cores.
 * @throws {Error} when no core matches.
 */
export async function lookupCore(
  reader: StoreReader,
  storeDir: string,
  input: { id: string; filter: CoreFilter; cache?: MetadataCache },
): Promise<StoredCore> {
  const { id, filter, cache } = input;
  checkId(id);
  if (id.endsWith(".json")) {
    const record = await readRecord(reader, id);
    if (!record) throw new Error(`no core metadata at ${id} in ${reader.describe()}`);
    return { key: id, record };
  }
  const result = findCore(await findCores(reader, storeDir, { ...filter, cache }), id);
  if (result.kind === "found") return result.core;
  if (result.kind === "ambiguous") {
    const ids = result.matches.slice(0, 5).map((core) => shortId(core.record.id)).join(", ");
    throw new UsageError(`ID "${id}" matches ${result.matches.length} cores (${ids}...): give more digits`);
  }
  const where = [filter.namespace && `namespace ${filter.namespace}`, filter.pod && `pod ${filter.pod}`]
    .filter(Boolean).join(", ");
  throw new Error(
    `no stored core has ID ${id} in ${reader.describe()}${where ? ` (${where})` : ""}; "coredog list" shows the IDs`,
  );
}

/**
 * Throws unless `id` can name a core: {@linkcode MIN_ID_PREFIX} or more hex
 * digits, or a metadata key (`.json`).
 *
 * @throws {UsageError}
 */
export function checkId(id: string): void {
  if (id.endsWith(".json") || new RegExp(`^[0-9a-fA-F]{${MIN_ID_PREFIX},}$`).test(id)) return;
  throw new UsageError(
    `"${id}" is not a core ID: give the ID column of "coredog list" (at least ${MIN_ID_PREFIX} hex digits) ` +
      "or a metadata object key",
  );
}

async function readRecord(reader: StoreReader, key: string): Promise<CrashRecord | undefined> {
  let value: unknown;
  try {
    value = await reader.getJson(key);
  } catch (error) {
    // Listed a moment ago and gone now (deleted by a lifecycle rule): not a core any more.
    if (/NoSuchKey|ENOENT|not found/i.test(`${(error as Error).name} ${(error as Error).message}`)) return undefined;
    throw new Error(`cannot read the metadata object ${key}: ${(error as Error).message}`);
  }
  if (!value || typeof value !== "object" || typeof (value as CrashRecord).id !== "string") return undefined;
  const record = value as CrashRecord;
  if (typeof record.crashedAt !== "string") return undefined;
  record.pod ??= {};
  record.container ??= {};
  record.process ??= {};
  return record;
}
