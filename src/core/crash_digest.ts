/**
 * Crash-signature digests across nodes: repeats of a known signature within
 * a window are folded into one digest that lists the pods and nodes, so
 * twelve replicas crashing together on twelve nodes give one "new crash"
 * message and one digest, not twelve messages.
 *
 * Windows are aligned on the epoch (`[k·W, (k+1)·W)` for window length
 * `W`), so every node computes the same window for a crash time without
 * asking anyone. Per window, the watcher whose conditional write creates the
 * window's claim object sends the digest when the window ends.
 *
 * Which crash gets a message at once ({@linkcode groupVerdict}):
 * - the first core of a signature anywhere ("new crash");
 * - the claimant of a window when the signature was known before the
 *   window began (the first message about it in this window);
 * - a core that arrives after the window's digest went out (a slow upload).
 *
 * Everything else folds into the claimant's digest.
 *
 * Pure: the store's listing comes from `watcher/signature_registry.ts`.
 *
 * @module
 */

import type { CrashRecord, DigestWindow, SignatureSighting } from "./crash_record.ts";
import { renderTemplate, sightingText } from "./template.ts";

/** One core of a signature, as its marker in the store names it. */
export interface Occurrence {
  /** Crash time, ISO 8601 UTC. */
  crashedAt: string;
  /** Node name, `-` when unknown. */
  node: string;
  /** Namespace, absent when unknown. */
  namespace?: string;
  /** Pod name, absent when unknown. */
  pod?: string;
  /** The first 12 hex digits of the core's id (`coredog get` takes it). */
  core: string;
}

/** What the store says about a signature's window at its end. */
export interface SignatureDigest {
  signature: string;
  window: DigestWindow;
  /** Cores of the window that had no message of their own, oldest first. */
  occurrences: Occurrence[];
  /** The signature's counts over all time, at the window's end. */
  totals: SignatureSighting;
  /** The claimant's own crash of this signature: site, frames, executable and signal for the text. */
  record: CrashRecord;
}

export type { DigestWindow, GroupDecision } from "./crash_record.ts";

/** Pods/nodes listed in a digest at most (the count has them all). */
const MAX_LISTED_OCCURRENCES = 20;

/** The aligned window holding `timeMs`. */
export function windowOf(timeMs: number, windowMs: number): DigestWindow {
  const start = Math.floor(timeMs / windowMs) * windowMs;
  return { start, end: start + windowMs };
}

/** Input of {@linkcode groupVerdict}. */
export interface VerdictInput {
  /** This core created the signature's `first.json`. */
  first: boolean;
  /** This core created the window's claim. */
  claimant: boolean;
  /** When the signature was first seen, ms. */
  sinceMs: number;
  window: DigestWindow;
  /** The window's digest was already sent when this core was recorded. */
  digestSent: boolean;
}

/** Whether a core gets a message now or folds into its window's digest (see the module doc). */
export function groupVerdict(input: VerdictInput): "notify" | "fold" {
  if (input.first) return "notify";
  if (input.claimant) return input.sinceMs < input.window.start ? "notify" : "fold";
  return input.digestSent ? "notify" : "fold";
}

/** The marker name of a core: `<time>_<node>_<namespace>~<pod>_<core>`, sortable by time. */
export function markerName(record: Pick<CrashRecord, "id" | "crashedAt" | "node" | "pod">): string {
  const time = record.crashedAt.replace(/[-:]/g, "");
  const pod = record.pod.name ? `${record.pod.namespace ?? "-"}~${record.pod.name}` : "-~-";
  return `${time}_${safePart(record.node.name)}_${pod}_${record.id.slice(0, 12)}`;
}

/** The occurrence a marker name describes, or undefined for a name that is not a marker. */
export function parseMarker(name: string): Occurrence | undefined {
  const parts = name.split("_");
  if (parts.length !== 4) return undefined;
  const crashedAt = compactToIso(parts[0]);
  const [namespace, pod] = parts[2].split("~");
  if (!crashedAt || pod === undefined || !/^[0-9a-f]{1,12}$/.test(parts[3])) return undefined;
  const occurrence: Occurrence = { crashedAt, node: parts[1], core: parts[3] };
  if (namespace !== "-") occurrence.namespace = namespace;
  if (pod !== "-") occurrence.pod = pod;
  return occurrence;
}

/** The counts of a signature from its occurrences, sorted by time. */
export function sightingOf(occurrences: Occurrence[], first: boolean): SignatureSighting {
  return {
    first,
    count: occurrences.length,
    pods: new Set(occurrences.map((o) => `${o.namespace ?? "-"}/${o.pod ?? "-"}`)).size,
    nodes: new Set(occurrences.map((o) => o.node)).size,
    since: occurrences[0]?.crashedAt ?? "",
  };
}

/** The digest as a channel limited to `namespaces` sees it; undefined when none of its cores is for it. */
export function digestForNamespaces(
  digest: SignatureDigest,
  matches: (namespace: string | undefined) => boolean,
): SignatureDigest | undefined {
  const occurrences = digest.occurrences.filter((o) => matches(o.namespace));
  return occurrences.length === 0 ? undefined : { ...digest, occurrences };
}

/**
 * The digest message: the signature, its site and what it folded ("11
 * more crashes in 11 pods on 11 nodes between 09:10 and 09:20"), the totals
 * as `{crash.seen}` says them, one crash in the channel's template, then
 * the pods and nodes, oldest first. The counts come first so that they
 * survive when an API's size limit cuts the list.
 */
export function renderSignatureDigest(digest: SignatureDigest, options: { template: string }): string {
  const { occurrences, record } = digest;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const crashes = occurrences.length === 1 ? "1 more crash" : `${occurrences.length} more crashes`;
  const pods = new Set(occurrences.map((o) => `${o.namespace}/${o.pod}`)).size;
  const nodes = new Set(occurrences.map((o) => o.node)).size;
  const shown = occurrences.slice(0, MAX_LISTED_OCCURRENCES);
  const what = renderTemplate("{process.executable} {signal.name} at {crash.site}", record);
  return [
    `[crash ${digest.signature}] ${what}: ${crashes} ` +
    `in ${plural(pods, "pod")} on ${plural(nodes, "node")} between ${clockTime(digest.window.start)} and ` +
    `${clockTime(digest.window.end)} UTC`,
    sightingText({ ...digest.totals, first: false }),
    "One of them:",
    // The claimant's crash as it stands now, not as it stood when it was the first.
    renderTemplate(options.template, { ...record, sighting: { ...digest.totals, first: false } }),
    shown.length === occurrences.length ? "Crashes:" : `The first ${shown.length} of these crashes:`,
    ...shown.map((o) =>
      `- ${o.crashedAt.slice(0, 19).replace("T", " ")} node ${o.node}: ${o.namespace ?? "unknown"}/${
        o.pod ?? "unknown"
      } core ${o.core}`
    ),
  ].join("\n");
}

function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/** Node names go into a key segment split on `_`. */
function safePart(name: string): string {
  return name ? name.replaceAll("_", "-") : "-";
}

/** `20261201T091233.000Z` back to `2026-12-01T09:12:33.000Z`. */
function compactToIso(compact: string): string | undefined {
  const m = compact.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ""}Z` : undefined;
}
