/**
 * The admission webhook's rules: whether a pod gets a dump directory, at
 * which path, and in which containers.
 *
 * A pod opts in with two annotations, `coredog.io/inject: "true"` and
 * `coredog.io/path: "/corefile"`, and may narrow the containers with
 * `coredog.io/container: "app,worker"`. Everything else is skipped, with
 * a reason for the log and, when the user asked for injection, a warning
 * that `kubectl apply` shows.
 *
 * The webhook never denies a pod, so none of these rules can block a
 * deployment: at worst a pod runs without a dump directory and says why.
 *
 * Pure: the caller hands in the pod from the AdmissionReview.
 *
 * @module
 */

import { unpackAnnotations } from "./packed_annotations.ts";
import { INJECTED_ANNOTATION } from "./pod_facts.ts";
import { truncateText, utf16Units } from "./text_limit.ts";

/** Set by the webhook to the containers it injected, e.g. `app,worker`; the watcher reads it too. */
export { INJECTED_ANNOTATION };

/** Opt-in annotation; only the value `"true"` injects. */
const INJECT_ANNOTATION = "coredog.io/inject";
/** Where the dump directory is mounted in the containers. */
const PATH_ANNOTATION = "coredog.io/path";
/** Comma list of the containers to inject; empty or absent means every app container. */
const CONTAINER_ANNOTATION = "coredog.io/container";
/** Set by the kubelet on the API copy of a static pod. */
const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

/**
 * Paths the webhook refuses to mount over, and everything under them: the
 * seed's list plus the kernel and runtime filesystems. Mounting a host
 * directory there would hide the image's files or the kernel's interfaces.
 */
export const REFUSED_PATHS: readonly string[] = [
  "/",
  "/etc",
  "/usr",
  "/bin",
  "/sbin",
  "/var",
  "/root",
  "/home",
  "/boot",
  "/proc",
  "/sys",
  "/dev",
  "/lib",
  "/lib64",
  "/run",
];

/** Longest warning kubectl shows comfortably; the issue asks for under 120 characters. */
export const MAX_WARNING_LENGTH = 119;

// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** Linux's PATH_MAX: a mount path must be shorter. */
const MAX_PATH_BYTES = 4096;

/** A container as it appears in an AdmissionReview; anything may be missing. */
export interface AdmissionContainer {
  name?: string;
  env?: { name?: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } }[] | null;
  volumeMounts?: { name?: string; mountPath?: string; subPath?: string; subPathExpr?: string }[] | null;
  volumeDevices?: { name?: string; devicePath?: string }[] | null;
}

/** A pod as it appears in an AdmissionReview; anything may be missing. */
export interface AdmissionPod {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    annotations?: Record<string, string> | null;
  } | null;
  spec?: {
    containers?: AdmissionContainer[] | null;
    initContainers?: AdmissionContainer[] | null;
    volumes?: { name?: string; hostPath?: { path?: string; type?: string } }[] | null;
    os?: { name?: string } | null;
    nodeSelector?: Record<string, string> | null;
  } | null;
}

/** Why a pod was not injected; the `reason` label of the skip metric. */
export type SkipReason =
  | "not-enabled"
  | "mirror-pod"
  | "windows-pod"
  | "path-missing"
  | "path-invalid"
  | "path-refused"
  | "no-containers"
  | "no-matching-container"
  | "invalid-pod"
  | "volume-conflict"
  | "mount-conflict"
  | "already-injected";

/** The rules' verdict on one pod. */
export type InjectionDecision =
  | {
    inject: false;
    reason: SkipReason;
    /** Human reason, for `Skip injection for pod ... - Reason: <detail>`. */
    detail: string;
    /** For the AdmissionResponse; empty when the pod never asked for CoreDog. */
    warnings: string[];
  }
  | {
    inject: true;
    /** The normalised mount path. */
    mountPath: string;
    /** Names of the app containers to inject, in pod order. */
    containers: string[];
    warnings: string[];
    /**
     * CoreDog annotations that came packed into `coredog.io/inject`'s value
     * (`kubectl run --annotations=a=1,b=2`), to be written back one by one.
     */
    unpacked: Record<string, string>;
  };

/** The warning for annotations packed into one (kubectl run's `--annotations` does not split on commas). */
export const PACKED_WARNING =
  "coredog.io/inject held several annotations (kubectl run --annotations does not split on commas); read them apart";

/** Verdict on a `coredog.io/path` value. */
export type MountPathCheck =
  | { ok: true; path: string }
  | { ok: false; reason: "path-missing" | "path-invalid" | "path-refused"; detail: string };

/**
 * Decides whether and where to inject `pod`.
 *
 * @example
 * ```ts
 * decideInjection({
 *   metadata: { annotations: { "coredog.io/inject": "true", "coredog.io/path": "/corefile" } },
 *   spec: { containers: [{ name: "app" }] },
 * });
 * // { inject: true, mountPath: "/corefile", containers: ["app"], warnings: [], unpacked: {} }
 * ```
 */
export function decideInjection(pod: AdmissionPod): InjectionDecision {
  const { annotations, unpacked } = unpackAnnotations(pod.metadata?.annotations ?? {});
  if (annotations[MIRROR_ANNOTATION] !== undefined) {
    return skip("mirror-pod", "mirror pod of a static pod; the kubelet ignores changes to it");
  }
  const inject = annotations[INJECT_ANNOTATION];
  if (inject?.trim().toLowerCase() !== "true") return notEnabled(inject, annotations);
  if (isWindowsPod(pod)) {
    return skip("windows-pod", "Windows pods are not supported", ["not injected: Windows pods are not supported"]);
  }
  const path = checkMountPath(annotations[PATH_ANNOTATION]);
  if (!path.ok) return skip(path.reason, path.detail, [`not injected: ${path.detail}`]);
  const containers = pod.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    return skip("no-containers", "the pod has no containers", ["not injected: the pod has no containers"]);
  }
  const names = containers.map((c) => c?.name).filter((n): n is string => typeof n === "string" && n !== "");
  if (names.length !== containers.length) {
    return skip("invalid-pod", "a container has no name", ["not injected: a container has no name"]);
  }
  const selection = selectContainers(annotations[CONTAINER_ANNOTATION], {
    containers: names,
    initContainers: initContainerNames(pod),
  });
  if (selection.selected.length === 0) {
    const detail = `no container matches ${CONTAINER_ANNOTATION} "${annotations[CONTAINER_ANNOTATION]}"`;
    return skip("no-matching-container", detail, [`not injected: ${detail}`, ...selection.warnings]);
  }
  const packed = Object.keys(unpacked).length > 0;
  return {
    inject: true,
    mountPath: path.path,
    containers: selection.selected,
    warnings: packed ? [PACKED_WARNING, ...selection.warnings] : selection.warnings,
    unpacked,
  };
}

/**
 * Checks and normalises a `coredog.io/path` value: it must be absolute,
 * without `..` segments (rejected before normalising, so `/etc/../etc`
 * cannot sneak through), and neither a refused path nor below one once
 * `//`, `/./` and a trailing `/` are folded.
 *
 * @example
 * ```ts
 * checkMountPath("/data//dumps/"); // { ok: true, path: "/data/dumps" }
 * checkMountPath("//etc");         // { ok: false, reason: "path-refused", ... }
 * ```
 */
export function checkMountPath(value: string | undefined): MountPathCheck {
  const raw = value?.trim() ?? "";
  if (raw === "") {
    return { ok: false, reason: "path-missing", detail: `annotation ${PATH_ANNOTATION} is required but not set` };
  }
  const shown = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}...` : raw);
  // search() ignores the global regex's lastIndex, which test() would carry from call to call.
  if (raw.search(CONTROL_CHARACTERS) !== -1) {
    return { ok: false, reason: "path-invalid", detail: `${PATH_ANNOTATION} ${shown} contains control characters` };
  }
  if (!raw.startsWith("/")) {
    return {
      ok: false,
      reason: "path-invalid",
      detail: `${PATH_ANNOTATION} ${shown} must be an absolute path such as /corefile`,
    };
  }
  // Linux refuses paths of PATH_MAX (4096) bytes or more: the container would never start.
  if (new TextEncoder().encode(raw).length >= MAX_PATH_BYTES) {
    return {
      ok: false,
      reason: "path-invalid",
      detail: `${PATH_ANNOTATION} ${shown} is longer than ${MAX_PATH_BYTES - 1} bytes`,
    };
  }
  const segments = raw.split("/");
  if (segments.includes("..")) {
    return { ok: false, reason: "path-invalid", detail: `${PATH_ANNOTATION} ${shown} must not contain ".."` };
  }
  const path = normaliseMountPath(raw);
  const refused = REFUSED_PATHS.find((r) => path === r || (r !== "/" && path.startsWith(`${r}/`)));
  if (refused === "/") {
    return { ok: false, reason: "path-refused", detail: `${PATH_ANNOTATION} ${shown} would hide the whole filesystem` };
  }
  if (refused) {
    return {
      ok: false,
      reason: "path-refused",
      detail: `${PATH_ANNOTATION} ${shown} is ${path === refused ? "" : "under "}the system path ${refused}`,
    };
  }
  return { ok: true, path };
}

/**
 * Normalises a mount path the way {@linkcode checkMountPath} does, so that
 * `/corefile/` in a pod and `/corefile` in an annotation count as one.
 */
export function normaliseMountPath(path: string): string {
  return "/" + path.split("/").filter((s) => s !== "" && s !== ".").join("/");
}

/** The pod's container names, for {@linkcode selectContainers}. */
export interface ContainerNames {
  /** App containers (`spec.containers`), in pod order. */
  containers: string[];
  /** Init containers, only to explain why naming one does nothing. */
  initContainers?: string[];
}

/** Result of {@linkcode selectContainers}. */
export interface ContainerSelection {
  selected: string[];
  warnings: string[];
}

/**
 * Picks the app containers named by `annotation` (a comma list; spaces
 * around names are ignored), or all of them when it is empty. Names that
 * match no app container produce a warning; init containers are never
 * picked, since a core from a one-shot init step has no long-lived pod
 * directory to land in.
 */
export function selectContainers(annotation: string | undefined, names: ContainerNames): ContainerSelection {
  const { containers, initContainers = [] } = names;
  const requested = [...new Set((annotation ?? "").split(",").map((n) => n.trim()).filter((n) => n !== ""))];
  if (requested.length === 0) return { selected: [...containers], warnings: [] };
  const selected = containers.filter((name) => requested.includes(name));
  const unknown = requested.filter((name) => !containers.includes(name));
  const warnings: string[] = [];
  const init = unknown.filter((name) => initContainers.includes(name));
  const missing = unknown.filter((name) => !initContainers.includes(name));
  if (init.length > 0) {
    warnings.push(clipWarning(`init containers are never injected: ${init.map((n) => `"${n}"`).join(", ")}`));
  }
  if (missing.length > 0) {
    warnings.push(
      clipWarning(`${CONTAINER_ANNOTATION} names no such container: ${missing.map((n) => `"${n}"`).join(", ")}`),
    );
  }
  return { selected, warnings };
}

/**
 * `<namespace>/<name>` for log lines. A pod made by a controller has no
 * name yet during admission, so it shows as `<namespace>/<generateName>*`.
 */
export function podReference(namespace: string, pod: AdmissionPod): string {
  const name = pod.metadata?.name;
  if (name) return `${namespace}/${name}`;
  const generateName = pod.metadata?.generateName;
  return `${namespace}/${generateName ? `${generateName}*` : "<unnamed>"}`;
}

/** The seed's log line for a skipped pod. */
export function skipMessage(reference: string, detail: string): string {
  return `Skip injection for pod ${reference} - Reason: ${detail}`;
}

/**
 * Prefixes a warning with `coredog: ` (kubectl prints warnings from every
 * webhook together), escapes control characters and cuts it below
 * {@linkcode MAX_WARNING_LENGTH}.
 */
export function clipWarning(text: string): string {
  // kubectl prints warnings to a terminal: names from the pod must not carry escape sequences there.
  const printable = text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const warning = printable.startsWith("coredog: ") ? printable : `coredog: ${printable}`;
  return truncateText(warning, MAX_WARNING_LENGTH, { measure: utf16Units, marker: "..." });
}

function skip(reason: SkipReason, detail: string, warnings: string[] = []): InjectionDecision {
  return { inject: false, reason, detail, warnings: warnings.map(clipWarning) };
}

function notEnabled(value: string | undefined, annotations: Record<string, string>): InjectionDecision {
  if (value === undefined) {
    const hinted = annotations[PATH_ANNOTATION] !== undefined || annotations[CONTAINER_ANNOTATION] !== undefined;
    // A pod carrying the other CoreDog annotations most likely forgot this one.
    const warnings = hinted ? [`not injected: add ${INJECT_ANNOTATION}: "true" to enable CoreDog`] : [];
    return skip("not-enabled", `annotation ${INJECT_ANNOTATION} is not set`, warnings);
  }
  const detail = `annotation ${INJECT_ANNOTATION} is ${JSON.stringify(value.slice(0, 20))}, not "true"`;
  // "false" is a deliberate opt-out and deserves no warning.
  return skip("not-enabled", detail, value.trim().toLowerCase() === "false" ? [] : [`not injected: ${detail}`]);
}

function isWindowsPod(pod: AdmissionPod): boolean {
  return pod.spec?.os?.name === "windows" || pod.spec?.nodeSelector?.["kubernetes.io/os"] === "windows";
}

function initContainerNames(pod: AdmissionPod): string[] {
  const init = pod.spec?.initContainers;
  return Array.isArray(init) ? init.map((c) => c?.name).filter((n): n is string => typeof n === "string") : [];
}
