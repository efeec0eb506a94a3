/**
 * A local copy of the metadata objects already read, so that a second
 * `coredog list` on a large bucket costs the listing and the new objects
 * only. An entry is used only while the listing shows the object unchanged
 * (same ETag and size on S3, same size and modification time in a
 * directory); anything else is read again. Kept in `COREDOG_CACHE_DIR`,
 * `$XDG_CACHE_HOME/coredog/` or `~/.cache/coredog/`, one file per store,
 * readable by the user only (metadata names pods and nodes).
 *
 * @module
 */

import { createHash } from "node:crypto";
import fs from "node:fs";
import { join } from "node:path";
import type { CrashRecord } from "../core/crash_record.ts";

/** Bumped when the file's shape changes; other versions are ignored. */
const VERSION = 1;

/** Records by key, each with the listing's tag of the object it came from. */
export interface MetadataCache {
  /** The record, when it was read from an object with this tag. */
  get(key: string, tag: string): CrashRecord | undefined;
  put(key: string, tag: string, record: CrashRecord): void;
  /** Forgets keys under `prefix` that are not in `listed` (deleted objects). */
  prune(prefix: string, listed: Set<string>): void;
  /** Writes the file if anything changed; a failure to write is not an error of the command. */
  save(): Promise<void>;
}

/** A cache that keeps nothing (`--no-cache`, or no home directory). */
export const NO_CACHE: MetadataCache = {
  get: () => undefined,
  put() {},
  prune() {},
  save: () => Promise.resolve(),
};

/**
 * The cache directory: `COREDOG_CACHE_DIR`, else `$XDG_CACHE_HOME/coredog`,
 * else `~/.cache/coredog`; undefined when none can be named.
 */
export function cacheDir(env: (name: string) => string | undefined): string | undefined {
  const own = env("COREDOG_CACHE_DIR");
  if (own) return own;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "coredog");
  const home = env("HOME");
  return home ? join(home, ".cache", "coredog") : undefined;
}

/** Opens the cache of the store `identity` (endpoint, bucket, StoreDir...) in `dir`. */
export async function openMetadataCache(dir: string, identity: string): Promise<MetadataCache> {
  const name = createHash("sha256").update(identity).digest("hex").slice(0, 16);
  const path = join(dir, `metadata-${name}.json`);
  let entries: Record<string, [string, CrashRecord]> = {};
  try {
    const parsed = JSON.parse(await fs.promises.readFile(path, "utf8"));
    if (parsed?.version === VERSION && parsed.identity === identity && typeof parsed.entries === "object") {
      entries = parsed.entries;
    }
  } catch {
    // Missing or unreadable: start empty; it is only a copy.
  }
  let changed = false;
  return {
    get(key, tag) {
      const entry = entries[key];
      return entry && entry[0] === tag ? structuredClone(entry[1]) : undefined;
    },
    put(key, tag, record) {
      entries[key] = [tag, record];
      changed = true;
    },
    prune(prefix, listed) {
      for (const key of Object.keys(entries)) {
        if (key.startsWith(prefix) && !listed.has(key)) {
          delete entries[key];
          changed = true;
        }
      }
    },
    async save() {
      if (!changed) return;
      const tmp = `${path}.partial-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
        await fs.promises.writeFile(tmp, JSON.stringify({ version: VERSION, identity, entries }), { mode: 0o600 });
        await fs.promises.rename(tmp, path);
      } catch {
        await fs.promises.rm(tmp, { force: true }).catch(() => {});
      }
    },
  };
}
