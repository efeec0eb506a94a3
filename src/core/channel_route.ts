/**
 * Which crashes a `NoticeChannel` entry gets: its `namespaces` (names or
 * globs with `*` and `?`) and its `matchLabels` (every label must be on the
 * pod with that value), so that each team's channel gets its own crashes.
 *
 * Pure. An empty list or map limits nothing. A crash whose namespace or
 * labels are not known (an unattributed core, the Kubernetes API
 * unreachable) does not match a channel that is limited by them: a
 * message to the wrong team is worse than one caught by an unlimited
 * channel.
 *
 * @module
 */

import type { CrashRecord } from "./crash_record.ts";

/** A channel's routing keys. */
export interface ChannelRoute {
  /** `NoticeChannel[].namespaces`; empty: every namespace. */
  namespaces?: string[];
  /** `NoticeChannel[].matchLabels`; empty: any labels. */
  matchLabels?: Record<string, string>;
}

const NAMESPACE_GLOB = /^[a-z0-9*?]([a-z0-9*?-]{0,62})$/;

/** Why `route` does not take `record`, or undefined when it does. */
export function routeRefusal(route: ChannelRoute, record: CrashRecord): string | undefined {
  const namespaces = route.namespaces ?? [];
  if (namespaces.length > 0) {
    const namespace = record.pod.namespace;
    if (namespace === undefined) return "the namespace is not known";
    if (!namespaces.some((glob) => globMatches(glob, namespace))) {
      return `namespace ${namespace} is not in ${namespaces.join(", ")}`;
    }
  }
  const wanted = Object.entries(route.matchLabels ?? {});
  if (wanted.length > 0) {
    const labels = record.pod.labels;
    if (!labels) return "the pod's labels are not known";
    const missing = wanted.filter(([key, value]) => labels[key] !== value);
    if (missing.length > 0) return `the pod has no label ${missing.map(([k, v]) => `${k}=${v}`).join(", ")}`;
  }
  return undefined;
}

/** True when `name` matches `glob`, where `*` is any run of characters and `?` one character. */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${pattern}$`).test(name);
}

/** Configuration problems of a channel's routing keys; `where` is e.g. `NoticeChannel[2]`. */
export function routeProblems(route: ChannelRoute, where: string): string[] {
  const problems: string[] = [];
  for (const glob of route.namespaces ?? []) {
    if (!NAMESPACE_GLOB.test(glob)) {
      problems.push(
        `${where}.namespaces entry "${glob}" is not a namespace name or glob; ` +
          "use lower-case letters, digits, '-', '*' and '?', e.g. team-a or team-*",
      );
    }
  }
  for (const [key, value] of Object.entries(route.matchLabels ?? {})) {
    if (key === "" || typeof value !== "string") {
      problems.push(`${where}.matchLabels "${key}" needs a label name and a string value, e.g. app: web`);
    }
  }
  return problems;
}
