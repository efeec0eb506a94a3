/**
 * JSON Patch (RFC 6902) operations, as far as the webhook writes them.
 *
 * @module
 */

/** One JSON Patch operation; the webhook only ever adds. */
export interface JsonPatchOperation {
  op: "add";
  /** A JSON Pointer (RFC 6901), e.g. `/metadata/annotations/coredog.io~1injected`. */
  path: string;
  value: unknown;
}

/**
 * Escapes one JSON Pointer reference token: `~` becomes `~0`, then `/`
 * becomes `~1` (the order matters, or `~1` in a key would turn into `/`).
 *
 * @example
 * ```ts
 * pointerToken("coredog.io/injected"); // "coredog.io~1injected"
 * ```
 */
export function pointerToken(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Options of {@linkcode appendOperation}. */
export interface AppendOptions {
  /** What the document holds at `path` now: an array, or nothing (absent or null). */
  existing: unknown;
}

/**
 * The operation that appends `value` to the array at `path`, or creates the
 * array when there is none: `add .../-` fails on a missing array, and `add`
 * of a whole array over an existing one would drop its items.
 */
export function appendOperation(path: string, value: unknown, options: AppendOptions): JsonPatchOperation {
  return Array.isArray(options.existing)
    ? { op: "add", path: `${path}/-`, value }
    : { op: "add", path, value: [value] };
}
