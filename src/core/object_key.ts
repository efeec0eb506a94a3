/**
 * Object keys for stored cores and their metadata.
 *
 * A key is unique even when the kernel reuses a file name (`core`,
 * `core.server.1` after a restart): it carries the crash time to the
 * millisecond, the executable and the pid. It is also deterministic for one
 * core file, so that an upload repeated after a restart overwrites its own
 * object instead of leaving a second one.
 *
 * @module
 */

/** What a key is made of. */
export interface ObjectKeyParts {
  /** `StoreDir`, without leading or trailing slashes. */
  storeDir: string;
  namespace?: string;
  pod?: string;
  container?: string;
  /** The core's mtime, milliseconds since the epoch. */
  crashedAtMs: number;
  /** Executable name (`comm`), when the core says. */
  executable?: string;
  pid?: number;
  /** The file's name on the node, used when the executable is unknown. */
  filename: string;
  /** The core's stable id, used when the pid is unknown. */
  id: string;
  compression: "zstd" | "gzip" | "none";
}

/** The object key of the core and of its JSON metadata. */
export interface ObjectKeys {
  core: string;
  metadata: string;
}

const EXTENSIONS = { zstd: ".core.zst", gzip: ".core.gz", none: ".core" } as const;

/**
 * Builds `<StoreDir>/<ns>/<pod>/<container>/<UTC time>-<exe>-<pid>.core.zst`
 * and the `.json` key beside it. Pods whose container is unknown use
 * `_pod` as the container segment and unattributed cores go under
 * `_unattributed/`; neither can clash with a real container or namespace
 * name, which never contain `_`.
 */
export function buildObjectKeys(parts: ObjectKeyParts): ObjectKeys {
  const segments: string[] = [];
  if (parts.storeDir) segments.push(parts.storeDir);
  if (parts.namespace && parts.pod) {
    segments.push(parts.namespace, parts.pod, parts.container ?? "_pod");
  } else {
    segments.push("_unattributed");
  }
  const who = safeSegment(parts.executable || parts.filename, 64);
  const which = parts.pid !== undefined ? String(parts.pid) : parts.id.slice(0, 12);
  const base = `${[...segments, `${compactTime(parts.crashedAtMs)}-${who}-${which}`].join("/")}`;
  return { core: base + EXTENSIONS[parts.compression], metadata: `${base}.json` };
}

/** `2026-11-27T06:45:12.123Z` becomes `20261127T064512.123Z`. */
export function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "");
}

/**
 * Makes text safe as one key segment: letters, digits, `.`, `_` and `-`
 * only, at most `max` characters, never `.` or `..`.
 */
function safeSegment(text: string, max: number): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, max);
  if (cleaned === "" || /^\.+$/.test(cleaned)) return "core";
  return cleaned;
}
