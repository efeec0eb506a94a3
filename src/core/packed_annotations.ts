/**
 * CoreDog annotations that arrived packed into one value.
 *
 * `kubectl run --annotations="coredog.io/inject=true,coredog.io/path=/corefile"`
 * (the seed's verification command) does not give a pod two annotations:
 * kubectl's `--annotations` is a string array that is never split on commas,
 * so the pod gets one annotation, `coredog.io/inject` with the value
 * `true,coredog.io/path=/corefile`. Found against the real kube-apiserver and
 * kubectl 1.35. Rather than let a documented command quietly do nothing,
 * CoreDog reads such a value as the annotations it spells out, and the
 * webhook writes them back as separate annotations.
 *
 * Pure.
 *
 * @module
 */

/** The annotation a packed value hides in. */
const PACKED_INTO = "coredog.io/inject";
/**
 * The annotations a user sets besides `inject`; only these are read apart. Others (`coredog.io/injected`, which the
 * webhook writes and the watcher trusts) could otherwise be set through the packed value.
 */
const COREDOG_KEY = /^coredog\.io\/(?:path|container)=/;

/** The annotations as meant, and the ones that were packed. */
export interface UnpackedAnnotations {
  /** Every annotation, with the packed ones taken apart. */
  annotations: Record<string, string>;
  /** The annotations that had to be taken out of `coredog.io/inject`'s value, with their values; empty when none. */
  unpacked: Record<string, string>;
}

/**
 * Takes `coredog.io/path=<value>` and `coredog.io/container=<value>` pairs out
 * of `coredog.io/inject`'s value (an annotation set on its own wins).
 * A segment without `coredog.io/...=` belongs to the value before it, so
 * `coredog.io/container=app,worker` keeps both containers.
 *
 * @example
 * ```ts
 * unpackAnnotations({ "coredog.io/inject": "true,coredog.io/path=/corefile" }).annotations;
 * // { "coredog.io/inject": "true", "coredog.io/path": "/corefile" }
 * ```
 */
export function unpackAnnotations(annotations: Record<string, string>): UnpackedAnnotations {
  const value = annotations[PACKED_INTO];
  if (typeof value !== "string" || !value.includes(",")) return { annotations, unpacked: {} };
  const segments = value.split(",");
  if (!segments.slice(1).some((segment) => COREDOG_KEY.test(segment.trim()))) return { annotations, unpacked: {} };
  const found: Array<[string, string]> = [[PACKED_INTO, segments[0].trim()]];
  for (const segment of segments.slice(1)) {
    const trimmed = segment.trim();
    if (COREDOG_KEY.test(trimmed)) {
      const at = trimmed.indexOf("=");
      found.push([trimmed.slice(0, at), trimmed.slice(at + 1)]);
    } else {
      found[found.length - 1][1] += `,${segment}`;
    }
  }
  // An annotation the pod sets on its own wins over a packed copy; only what is missing is taken from the value.
  const unpacked = Object.fromEntries(
    found.filter(([key]) => key === PACKED_INTO || annotations[key] === undefined),
  );
  return { annotations: { ...annotations, ...unpacked }, unpacked };
}
