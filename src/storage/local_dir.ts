/**
 * Storage in a local directory: the embedded default of the local
 * quickstart, and in clusters a mounted NFS/CFS share (the original chart's
 * `cfs` protocol).
 *
 * Each object is written to a temporary name and renamed into place, so a
 * reader never sees half a core and an interrupted write leaves no object.
 *
 * @module
 */

import fs from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StorageSettings } from "../core/storage_settings.ts";
import { type DownloadLink, publicUrl, type Storage } from "./storage.ts";

/** Creates a directory-backed {@linkcode Storage}. */
export function createLocalDirStorage(settings: StorageSettings): Storage {
  const root = resolve(settings.localDir);

  function pathOf(key: string): string {
    const path = resolve(root, key);
    // Keys are built from validated names, but StoreDir is free text.
    if (!path.startsWith(root + sep)) throw new Error(`object key "${key}" escapes ${root}`);
    return path;
  }

  async function writeAtomically(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const path = pathOf(key);
    await fs.promises.mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.partial-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await write(tmp);
      await fs.promises.rename(tmp, path);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
  }

  return {
    backend: "local",
    describe: () => `directory ${root}`,
    async upload(key: string, body: Readable): Promise<void> {
      await writeAtomically(key, (tmp) => pipeline(body, fs.createWriteStream(tmp, { flags: "wx" })));
    },
    async size(key: string): Promise<number | undefined> {
      try {
        return (await fs.promises.stat(pathOf(key))).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async createJsonIfAbsent(key: string, value: unknown): Promise<boolean> {
      const path = pathOf(key);
      await fs.promises.mkdir(dirname(path), { recursive: true });
      try {
        // O_EXCL: exactly one of several racing writers (processes, NFS clients with v3+) creates it.
        await fs.promises.writeFile(path, JSON.stringify(value, null, 2) + "\n", { flag: "wx" });
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw error;
      }
    },
    async listKeys(prefix: string, limit: number): Promise<string[]> {
      const dir = prefix.endsWith("/") ? pathOf(prefix.slice(0, -1)) : dirname(pathOf(prefix));
      let names: string[];
      try {
        names = await fs.promises.readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw error;
      }
      const base = dir.slice(root.length + 1).split(sep).join("/");
      return names.filter((n) => !n.includes(".partial-")).map((n) => `${base}/${n}`)
        .filter((key) => key.startsWith(prefix)).sort().slice(0, limit);
    },
    async putJson(key: string, value: unknown): Promise<void> {
      await writeAtomically(
        key,
        (tmp) => fs.promises.writeFile(tmp, JSON.stringify(value, null, 2) + "\n", { flag: "wx" }),
      );
    },
    async abortIncompleteUploads(key: string): Promise<number> {
      const path = pathOf(key);
      let names: string[];
      try {
        names = await fs.promises.readdir(dirname(path));
      } catch {
        return 0;
      }
      const prefix = `${basename(path)}.partial-`;
      const leftovers = names.filter((name) => name.startsWith(prefix));
      for (const name of leftovers) await fs.promises.rm(join(dirname(path), name), { force: true });
      return leftovers.length;
    },
    downloadLink(key: string): Promise<DownloadLink> {
      if (settings.publicUrlTemplate) return Promise.resolve({ url: publicUrl(settings.publicUrlTemplate, "", key) });
      return Promise.resolve({ url: pathOf(key) });
    },
  };
}
