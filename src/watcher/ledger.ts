/**
 * The watcher's memory of finished uploads, kept on the node so that a
 * restart neither uploads a kept core twice (`DeleteLocalCorefile: false`)
 * nor forgets to delete one whose upload finished just before the restart.
 *
 * One small JSON file per core, written to a temporary name and renamed,
 * so a kill at any moment leaves either the old state or the new one.
 *
 * @module
 */

import fs from "node:fs";
import { join } from "node:path";
import type { CrashRecord } from "../core/crash_record.ts";

/** What is remembered about one uploaded core. */
export interface LedgerEntry {
  id: string;
  path: string;
  dev: number;
  ino: number;
  key: string;
  metadataKey: string;
  storedBytes: number;
  uploadedAt: string;
  /** True once the notifiers were handed the record. */
  notified: boolean;
  /** The record to notify with, kept so that a restart can still send it. */
  record: CrashRecord;
}

/** Stores {@linkcode LedgerEntry} records in a directory. */
export class Ledger {
  #dir: string;
  #uploadingDir: string;
  #cleanupDir: string;

  /** Uses `<stateDir>/uploaded`, `<stateDir>/uploading` and `<stateDir>/cleanup`. */
  constructor(stateDir: string) {
    this.#dir = join(stateDir, "uploaded");
    this.#uploadingDir = join(stateDir, "uploading");
    this.#cleanupDir = join(stateDir, "cleanup");
  }

  /** Creates the directories. */
  async init(): Promise<void> {
    await fs.promises.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await fs.promises.mkdir(this.#uploadingDir, { recursive: true, mode: 0o700 });
    await fs.promises.mkdir(this.#cleanupDir, { recursive: true, mode: 0o700 });
  }

  /** The entry for core `id`, if it was uploaded before. */
  async get(id: string): Promise<LedgerEntry | undefined> {
    try {
      return JSON.parse(await fs.promises.readFile(this.#file(id), "utf8")) as LedgerEntry;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      // A damaged entry is treated as absent: uploading again overwrites the
      // same object key, which is safe; losing the core is not.
      if (error instanceof SyntaxError) return undefined;
      throw error;
    }
  }

  /** Records (or replaces) an entry. */
  async put(entry: LedgerEntry): Promise<void> {
    await writeAtomically(this.#file(entry.id), entry);
  }

  /** Forgets core `id` (its local file is gone). */
  async forget(id: string): Promise<void> {
    await fs.promises.rm(this.#file(id), { force: true });
  }

  /** Notes that core `id` is being uploaded to `key` (cleared once it is recorded). */
  async markUploading(id: string, key: string): Promise<void> {
    const file = join(this.#uploadingDir, `${checkId(id)}.json`);
    await writeAtomically(file, { id, key, startedAt: new Date().toISOString() });
  }

  /** Clears the upload mark of core `id`. */
  async clearUploading(id: string): Promise<void> {
    await fs.promises.rm(join(this.#uploadingDir, `${checkId(id)}.json`), { force: true });
  }

  /**
   * Uploads that were in progress when the watcher last stopped (or was
   * killed), and interrupted uploads whose cleanup failed before.
   */
  async listUploading(): Promise<{ id: string; key: string }[]> {
    // A re-upload killed while an earlier cleanup was still owed leaves both marks for the same upload.
    const marks = new Map<string, { id: string; key: string }>();
    for (const mark of [...await readMarks(this.#uploadingDir), ...await readMarks(this.#cleanupDir)]) {
      marks.set(`${mark.id}\n${mark.key}`, mark);
    }
    return [...marks.values()];
  }

  /**
   * Keeps the interrupted upload of core `id` to `key` for a cleanup at a
   * later start. Apart from the upload mark, because uploading the core
   * again sets and clears that mark while the interrupted upload is still
   * in the store.
   */
  async keepForCleanup(id: string, key: string): Promise<void> {
    await writeAtomically(join(this.#cleanupDir, `${checkId(id)}.json`), { id, key, keptAt: new Date().toISOString() });
    await this.clearUploading(id);
  }

  /** Forgets the interrupted upload of core `id`: it was cleaned up (or cannot be). */
  async clearCleanup(id: string): Promise<void> {
    await this.clearUploading(id);
    await fs.promises.rm(join(this.#cleanupDir, `${checkId(id)}.json`), { force: true });
  }

  /** Every entry, for pruning entries whose file has gone. */
  async list(): Promise<LedgerEntry[]> {
    const entries: LedgerEntry[] = [];
    for (const name of await fs.promises.readdir(this.#dir)) {
      if (!name.endsWith(".json")) continue;
      const entry = await this.get(name.slice(0, -5));
      if (entry) entries.push(entry);
    }
    return entries;
  }

  #file(id: string): string {
    return join(this.#dir, `${checkId(id)}.json`);
  }
}

async function readMarks(dir: string): Promise<{ id: string; key: string }[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const marks: { id: string; key: string }[] = [];
  for (const name of names) {
    if (!name.endsWith(".json")) continue;
    try {
      const mark = JSON.parse(await fs.promises.readFile(join(dir, name), "utf8"));
      if (typeof mark.id === "string" && typeof mark.key === "string") marks.push(mark);
    } catch {
      // A mark torn by a kill: its upload is retried from the file anyway.
    }
  }
  return marks;
}

function checkId(id: string): string {
  if (!/^[0-9a-f]{16,64}$/.test(id)) throw new Error(`bad ledger id ${id}`);
  return id;
}

/** Writes `value` as JSON to `file` so that a kill leaves the old content or the new, never half of it. */
async function writeAtomically(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await fs.promises.writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
  await fs.promises.rename(tmp, file);
}
