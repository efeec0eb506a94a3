/**
 * Opens namespace, pod and container directories to apps running as any
 * user: the kubelet creates them owned by root with the root's mode, so an
 * app that is not root could not write its core there.
 *
 * @module
 */

import type fs from "node:fs";
import { chmodSync } from "node:fs";

/** Depths below CorefileDir that get the mode: namespace 1, pod 2, container 3. */
const MODE_DEPTHS = { first: 1, last: 3 };

/**
 * Gives `dir` (found at `depth` below the root, with `stat`) the mode
 * `mode` (`Watcher.DirMode`, 1733 by default) when it is a namespace, pod
 * or container directory that has another mode. Returns the error when
 * chmod failed, for the caller to log once; undefined otherwise.
 */
export function fixDirMode(
  dir: string,
  options: { depth: number; stat: fs.Stats; mode: number | undefined },
): Error | undefined {
  const { depth, stat, mode } = options;
  if (mode === undefined || depth < MODE_DEPTHS.first || depth > MODE_DEPTHS.last) return undefined;
  if ((stat.mode & 0o7777) === mode) return undefined;
  try {
    chmodSync(dir, mode);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
