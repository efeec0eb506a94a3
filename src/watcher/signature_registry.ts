/**
 * Cross-node crash-signature state in the object store the cores go to, so
 * that every watcher knows whether a signature is new and how often it was
 * seen, without a server of its own.
 *
 * Per signature, under `<StoreDir>/signatures/<signature>/`:
 * - `first.json`, created with a conditional write (`If-None-Match: *`):
 *   the one watcher whose write succeeds reports "new crash";
 * - `seen/<time>_<node>_<namespace>~<pod>_<core id>`, one small marker per
 *   core, whose listing gives the count, the pods, the nodes and the first
 *   time.
 *
 * Stores without conditional writes (they overwrite instead of answering
 * 412) are detected once with a probe object; there, "new" falls back to
 * "my marker is the earliest in the listing", which two watchers racing
 * within the store's listing delay can both believe.
 *
 * @module
 */

import type { CrashRecord, SignatureSighting } from "../core/crash_record.ts";
import type { Storage } from "../storage/storage.ts";

/** Markers listed at most per signature; counts stop there. */
export const MAX_LISTED_MARKERS = 10_000;

/** Reads and records sightings of crash signatures. */
export class SignatureRegistry {
  #storage: Storage;
  #prefix: string;
  #conditional?: Promise<boolean>;

  /** A registry in `storage` under `storeDir` (`StorageConfig.StoreDir`). */
  constructor(storage: Storage, options: { storeDir: string }) {
    this.#storage = storage;
    this.#prefix = `${options.storeDir.replace(/\/+$/, "")}/signatures`;
  }

  /** True when the store refuses to overwrite with `If-None-Match: *` (probed once). */
  conditionalWrites(): Promise<boolean> {
    this.#conditional ??= (async () => {
      const probe = `${this.#prefix}/.probe-${crypto.randomUUID()}`;
      await this.#storage.createJsonIfAbsent(probe, { probe: true });
      return !(await this.#storage.createJsonIfAbsent(probe, { probe: true }));
    })();
    return this.#conditional;
  }

  /** Records `record`'s core under its signature and says how often it was seen; undefined without a signature. */
  async observe(
    record: Pick<CrashRecord, "id" | "crash" | "crashedAt" | "node" | "pod">,
  ): Promise<SignatureSighting | undefined> {
    const signature = record.crash?.signature;
    if (!signature || !/^[0-9a-f]{16}$/.test(signature)) return undefined;
    const base = `${this.#prefix}/${signature}`;
    const time = record.crashedAt.replace(/[-:]/g, "");
    const pod = record.pod.name ? `${record.pod.namespace ?? "-"}~${record.pod.name}` : "-~-";
    const marker = `${base}/seen/${time}_${record.node.name || "-"}_${pod}_${record.id.slice(0, 12)}`;
    await this.#storage.putJson(marker, { id: record.id, node: record.node.name, pod, site: record.crash?.site });
    let created = await this.#storage.createJsonIfAbsent(`${base}/first.json`, {
      signature,
      site: record.crash?.site,
      firstCore: record.id,
      since: record.crashedAt,
    });
    const markers = await this.#storage.listKeys(`${base}/seen/`, MAX_LISTED_MARKERS);
    if (!(await this.conditionalWrites())) created = markers[0] === marker;
    const names = markers.map((key) => key.slice(key.lastIndexOf("/") + 1).split("_"));
    const earliest = names[0]?.[0] ?? time;
    return {
      first: created,
      count: Math.max(1, markers.length),
      pods: new Set(names.map((n) => n[2])).size || 1,
      nodes: new Set(names.map((n) => n[1])).size || 1,
      since: compactToIso(earliest) ?? record.crashedAt,
    };
  }
}

/** `20261201T091233.000Z` back to `2026-12-01T09:12:33.000Z`. */
function compactToIso(compact: string): string | undefined {
  const m = compact.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ""}Z` : undefined;
}
