/**
 * The `Watcher` section as the watcher uses it: durations in milliseconds,
 * sizes parsed, the directory mode and the state directory checked.
 *
 * @module
 */

import { trimTrailingSlash } from "./config_values.ts";
import { parseSize, type SizeSpec } from "./size_spec.ts";

/** Watcher settings, from `Watcher`. */
export interface WatcherSettings {
  settleMs: number;
  quietMs: number;
  truncatedAfterMs: number;
  rescanMs: number;
  uploadConcurrency: number;
  retryMaxMs: number;
  healthPort: number;
  stateDir: string;
  /** Mode for new pod and container directories, or undefined to leave them alone. */
  dirMode: number | undefined;
  kubernetes: "auto" | "off";
  /** Cap on CorefileDir's total size. */
  maxUse: SizeSpec;
  /** Free space to leave on CorefileDir's file system. */
  keepFree: SizeSpec;
  /** Largest core stored, bytes; undefined means no limit. */
  maxCoreBytes: number | undefined;
  /** Cores stored per container per hour; 0 means no cap. */
  maxCoresPerContainerPerHour: number;
  /** Age after which empty directories of gone pods are removed, ms; 0 keeps them. */
  podDirGraceMs: number;
  /** debuginfod servers asked for symbols, in order (`DebuginfodURLs`); empty: none. */
  debuginfodUrls: string[];
  /** How long the pod cache keeps a deleted pod, ms. */
  podTombstoneMs: number;
}

/** Watcher settings from the checked `Watcher` values; `corefileDir` gives the default state directory. */
export function buildWatcher(
  values: Record<string, unknown>,
  corefileDir: string,
  problems: string[],
): WatcherSettings {
  const modeText = String(values.DirMode);
  let dirMode: number | undefined;
  if (modeText !== "") {
    if (!/^[0-7]{3,4}$/.test(modeText)) {
      problems.push(
        `Watcher.DirMode "${modeText}" is not an octal mode; write it quoted, e.g. "1733", or "" to leave modes alone`,
      );
    } else {
      dirMode = parseInt(modeText, 8);
    }
  }
  const sizes: Record<string, SizeSpec> = {};
  for (const key of ["MaxUse", "KeepFree", "MaxCoreSize"]) {
    const parsed = parseSize(String(values[key]));
    if (parsed.ok) sizes[key] = parsed.size;
    else problems.push(`Watcher.${key}: ${parsed.reason}`);
  }
  if (sizes.MaxCoreSize?.kind === "percent") {
    problems.push(
      'Watcher.MaxCoreSize must be a size such as 8Gi, not a share of the file system, or "0" for no limit',
    );
  }
  const debuginfodUrls = String(values.DebuginfodURLs).split(/\s+/).filter((url) => url !== "");
  for (const url of debuginfodUrls) {
    if (!/^https?:\/\/[^\s/,]+(\/[^\s,]*)?$/.test(url)) {
      problems.push(
        `Watcher.DebuginfodURLs entry "${url}" is not an http(s) URL; separate URLs with spaces, e.g. https://debuginfod.debian.net`,
      );
    }
  }
  const stateDir = String(values.StateDir) || `${trimTrailingSlash(corefileDir)}/.coredog`;
  if (!stateDir.startsWith("/")) problems.push(`Watcher.StateDir "${stateDir}" must be an absolute path`);
  return {
    settleMs: Number(values.SettleMilliseconds),
    quietMs: Number(values.QuietSeconds) * 1000,
    truncatedAfterMs: Number(values.TruncatedAfterSeconds) * 1000,
    rescanMs: Number(values.RescanSeconds) * 1000,
    uploadConcurrency: Number(values.UploadConcurrency),
    retryMaxMs: Number(values.RetryMaxSeconds) * 1000,
    healthPort: Number(values.HealthPort),
    stateDir,
    dirMode,
    kubernetes: values.Kubernetes as WatcherSettings["kubernetes"],
    maxUse: sizes.MaxUse ?? { kind: "off" },
    keepFree: sizes.KeepFree ?? { kind: "off" },
    maxCoreBytes: sizes.MaxCoreSize?.kind === "bytes" ? sizes.MaxCoreSize.bytes : undefined,
    maxCoresPerContainerPerHour: Number(values.MaxCoresPerContainerPerHour),
    podDirGraceMs: Number(values.PodDirGraceMinutes) * 60_000,
    debuginfodUrls: debuginfodUrls.map((url) => url.replace(/\/+$/, "")),
    podTombstoneMs: Number(values.PodTombstoneMinutes) * 60_000,
  };
}
