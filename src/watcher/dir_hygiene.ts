/**
 * Removes the dump directories of pods that are gone, so that a node that
 * ran thousands of pods does not keep thousands of empty directories.
 *
 * Only when the Kubernetes API says the pod no longer exists (or now runs
 * on another node), and only directories that hold no file and have not
 * changed for `Watcher.PodDirGraceMinutes`: removing the directory of a
 * live pod would detach its mount and lose its next core, so nothing is
 * ever guessed.
 *
 * @module
 */

import fs from "node:fs";
import { join } from "node:path";
import { isDnsLabel, isDnsSubdomain } from "../core/dump_path.ts";
import type { KubeClient } from "../kube/client.ts";
import type { Logger } from "../log.ts";

/** How long a pod seen alive is not asked about again, ms. */
const ALIVE_CACHE_MS = 60 * 60 * 1000;

/** Options of {@linkcode DirHygiene}. */
export interface DirHygieneOptions {
  corefileDir: string;
  kube: KubeClient;
  graceMs: number;
  /** This node's name: a pod now running elsewhere left its directory here behind. */
  nodeName: string;
  logger: Logger;
}

/** Sweeps pod directories of pods that are gone. */
export class DirHygiene {
  #options: DirHygieneOptions;
  #alive = new Map<string, number>();

  constructor(options: DirHygieneOptions) {
    this.#options = options;
  }

  /** One sweep; returns the pod directories removed. */
  async sweep(now = Date.now()): Promise<string[]> {
    const { corefileDir, graceMs } = this.#options;
    const removed: string[] = [];
    for (const namespace of await listDirs(corefileDir)) {
      if (!isDnsLabel(namespace)) continue;
      for (const pod of await listDirs(join(corefileDir, namespace))) {
        if (!isDnsSubdomain(pod)) continue;
        const dir = join(corefileDir, namespace, pod);
        const key = `${namespace}/${pod}`;
        if ((this.#alive.get(key) ?? 0) > now) continue;
        if (!(await emptyAndOld(dir, now - graceMs))) continue;
        if (!(await this.#gone(namespace, pod))) {
          this.#alive.set(key, now + ALIVE_CACHE_MS);
          continue;
        }
        // Checked again right before removing: a pod of the same name may have started meanwhile.
        if (!(await emptyAndOld(dir, now - graceMs))) continue;
        if (await removeEmptyTree(dir)) {
          removed.push(dir);
          this.#options.logger.info("removed the dump directory of a pod that is gone", { path: dir });
        }
      }
    }
    for (const [key, until] of this.#alive) if (until <= now) this.#alive.delete(key);
    return removed;
  }

  async #gone(namespace: string, pod: string): Promise<boolean> {
    try {
      const object = await this.#options.kube.getPod(namespace, pod);
      if (!object) return true;
      const node = object.spec?.nodeName;
      return node !== undefined && node !== this.#options.nodeName;
    } catch (error) {
      this.#options.logger.debug("cannot ask about a pod; keeping its directory", {
        pod: `${namespace}/${pod}`,
        error: (error as Error).message,
      });
      return false;
    }
  }
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await fs.promises.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** True when `dir` holds only empty directories (two levels at most) and none changed after `before`. */
async function emptyAndOld(dir: string, before: number): Promise<boolean> {
  try {
    if ((await fs.promises.lstat(dir)).mtimeMs > before) return false;
    for (const entry of await fs.promises.readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) return false;
      const sub = join(dir, entry.name);
      if ((await fs.promises.lstat(sub)).mtimeMs > before) return false;
      if ((await fs.promises.readdir(sub)).length > 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** rmdir of the container directories, then of the pod directory; rmdir never deletes a file. */
async function removeEmptyTree(dir: string): Promise<boolean> {
  try {
    for (const entry of await fs.promises.readdir(dir)) await fs.promises.rmdir(join(dir, entry));
    await fs.promises.rmdir(dir);
    return true;
  } catch {
    return false;
  }
}
