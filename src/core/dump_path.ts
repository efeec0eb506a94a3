/**
 * Attribution of a core file to its namespace, pod and container from where
 * it lies under CorefileDir.
 *
 * Two layouts are understood:
 * - `<root>/<namespace>/<pod>/<container>/<file>`: what the webhook injects
 *   (one directory per container through `subPathExpr`);
 * - `<root>/<namespace>/<pod>/<file>`: the seed's layout, one directory per
 *   pod, where the container is unknown from the path alone.
 *
 * Anything else is unattributed: a wrong guess sends the on-call engineer to
 * the wrong pod, which is worse than saying "unknown".
 *
 * @module
 */

import { posix } from "node:path";

/** Where a core came from, as far as its path tells. */
export type Attribution =
  | {
    kind: "container";
    namespace: string;
    pod: string;
    container: string;
    /** Path below CorefileDir. */
    relative: string;
  }
  | {
    kind: "pod";
    namespace: string;
    pod: string;
    relative: string;
  }
  | {
    kind: "unattributed";
    /** Why the path could not be attributed, for the log and the notification. */
    reason: string;
    relative: string;
  };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True for a valid Kubernetes namespace or container name (an RFC 1123 label). */
export function isDnsLabel(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

/** True for a valid Kubernetes pod name (an RFC 1123 subdomain). */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/**
 * Attributes `path` (absolute, on the host) to a pod and container from its
 * place under `root`.
 *
 * @example
 * ```ts
 * parseDumpPath("/dumps", "/dumps/team-a/web-7d9f-x2x/app/core.server.1");
 * // { kind: "container", namespace: "team-a", pod: "web-7d9f-x2x", container: "app", ... }
 * ```
 */
export function parseDumpPath(corefileDir: string, path: string): Attribution {
  const relative = posix.relative(posix.resolve(corefileDir), posix.resolve(path));
  if (relative === "" || relative.startsWith("..") || posix.isAbsolute(relative)) {
    return { kind: "unattributed", reason: "not under CorefileDir", relative: path };
  }
  const parts = relative.split("/");
  if (parts.length < 3) {
    return { kind: "unattributed", reason: "not inside a <namespace>/<pod>/ directory", relative };
  }
  if (parts.length > 4) {
    return { kind: "unattributed", reason: "nested deeper than <namespace>/<pod>/<container>/", relative };
  }
  const [namespace, pod] = parts;
  if (!isDnsLabel(namespace)) {
    return { kind: "unattributed", reason: `"${namespace}" is not a valid namespace name`, relative };
  }
  if (!isDnsSubdomain(pod)) {
    return { kind: "unattributed", reason: `"${pod}" is not a valid pod name`, relative };
  }
  if (parts.length === 3) return { kind: "pod", namespace, pod, relative };
  const container = parts[2];
  if (!isDnsLabel(container)) {
    return { kind: "unattributed", reason: `"${container}" is not a valid container name`, relative };
  }
  return { kind: "container", namespace, pod, container, relative };
}

/**
 * Depth of a directory below CorefileDir: 1 for a namespace directory,
 * 2 for a pod directory, 3 for a container directory.
 */
export function directoryDepth(corefileDir: string, dir: string): number {
  const relative = posix.relative(posix.resolve(corefileDir), posix.resolve(dir));
  if (relative === "") return 0;
  return relative.split("/").length;
}
