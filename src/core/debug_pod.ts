/**
 * The pod `coredog debug` creates to open a core in gdb with the exact
 * files that crashed, and the one `kubectl exec` command that does it.
 *
 * Three containers share one process namespace and one `emptyDir`:
 * - `fetch-core` (init, the CoreDog image) downloads the core through a
 *   short-lived presigned link, decompresses it and checks its SHA-256
 *   (`coredog fetch`), into `/cores/core`;
 * - `app`, the crashed container's image pinned by digest, only sleeps:
 *   it is there so that its file system is reachable as `/proc/<pid>/root`;
 * - `debugger` (an image with gdb) finds the app's process, writes its pid
 *   to `/cores/app.pid`, and waits for `kubectl exec`, which runs gdb with
 *   the app's root as sysroot: the executable and shared libraries gdb
 *   reads are the ones the process had.
 *
 * Pure: the caller presigns the link and talks to the API server.
 *
 * @module
 */

import { shortId } from "./core_listing.ts";
import type { CrashRecord } from "./crash_record.ts";

/** Where the core lands in every container. */
const CORE_DIR = "/cores";
/** The raw core. */
export const CORE_PATH = `${CORE_DIR}/core`;
/** The pid of the app container's process, as the debugger container sees it. */
export const APP_PID_PATH = `${CORE_DIR}/app.pid`;
/** Where the CoreDog image keeps the `coredog` command (Dockerfile). */
export const COREDOG_BINARY = "/usr/local/bin/coredog";

/** Options of {@linkcode buildDebugPod}. */
export interface DebugPodOptions {
  /** The presigned link to the stored core. */
  coreUrl: string;
  /** The CoreDog image, for the init container. */
  coredogImage: string;
  /** An image with gdb and a POSIX shell. */
  debuggerImage: string;
  /** The app image, pinned (see {@linkcode pinnedImage}). */
  appImage: string;
  /** How long the pod may live, seconds (`activeDeadlineSeconds`, and the app's `sleep`). */
  lifetimeSeconds: number;
  /** Add `SYS_PTRACE` to the debugger, needed to read `/proc/<pid>/root` of an app running as another user. */
  ptrace: boolean;
  imagePullSecrets?: string[];
}

/** The debug pod's name for a core: one per core, so a second `debug` finds the first. */
export function debugPodName(record: CrashRecord): string {
  return `coredog-debug-${shortId(record.id)}`;
}

/** Result of {@linkcode pinnedImage}. */
export type PinnedImage = { ok: true; image: string } | { ok: false; reason: string };

/** A pullable reference by digest: `REPOSITORY[:TAG]@sha256:<64 hex>`. */
const DIGEST_REFERENCE = /^[^@\s]+@sha256:[0-9a-f]{64}$/;

/** Options of {@linkcode pinnedImage}. */
export interface PinnedImageOptions {
  /** The watcher read the pod from the API (its metadata has the pod's uid), so only the status lacked the digest. */
  podRead?: boolean;
}

/**
 * The crashed container's image by digest: its `imageID` as the kubelet
 * reports it (`registry/repo@sha256:...`, possibly prefixed
 * `docker-pullable://`), else its image when the pod spec already names it
 * by digest (a pod whose container has not reported a status yet, or a
 * cluster without kubelets, has no `imageID`). A bare `sha256:...` is the
 * image's local id, which no registry serves.
 */
export function pinnedImage(container: CrashRecord["container"], options: PinnedImageOptions = {}): PinnedImage {
  const imageID = (container.imageID ?? "").replace(/^docker-pullable:\/\//, "");
  if (DIGEST_REFERENCE.test(imageID)) return { ok: true, image: imageID };
  if (container.image && DIGEST_REFERENCE.test(container.image)) return { ok: true, image: container.image };
  if (imageID) {
    return {
      ok: false,
      reason: `its image ID "${container.imageID}" is not a registry digest (REPOSITORY@sha256:...), so no node can ` +
        "pull exactly that image",
    };
  }
  const image = container.image ? `, and its image "${container.image}" is not pinned by digest` : "";
  return {
    ok: false,
    reason: options.podRead
      ? `its metadata has no image digest (container.imageID): the pod's status had no imageID for container ` +
        `${container.name ?? "?"} when the watcher read it (the container had not started yet)${image}`
      : "its metadata has no image digest (container.imageID): the watcher could not read the pod from the " +
        `Kubernetes API when it stored the core${image}`,
  };
}

/** The process the app container runs: unique in the pod, so the debugger can tell it apart. */
export function appCommand(lifetimeSeconds: number): string[] {
  return ["sleep", String(lifetimeSeconds)];
}

/**
 * The debugger container's command: find the process whose command line is
 * the app's, write its pid, then wait. `/proc/<pid>/cmdline` is readable
 * without ptrace rights; the separators are NUL bytes.
 */
export function debuggerScript(lifetimeSeconds: number): string {
  const args = ` ${appCommand(lifetimeSeconds).slice(1).join(" ")} `;
  return [
    "while :; do",
    "  for p in /proc/[0-9]*; do",
    // argv[0] is `sleep` as the runtime passes it, or a resolved path such as /usr/bin/sleep.
    `    case "$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null)" in`,
    `      "sleep${args}" | */"sleep${args}")`,
    // One second longer than the app's sleep, so that the debugger's own never looks like the app.
    `        echo "\${p#/proc/}" > ${APP_PID_PATH}; exec sleep ${lifetimeSeconds + 1} ;;`,
    "    esac",
    "  done",
    "  sleep 1",
    "done",
  ].join("\n");
}

/** The init container's `coredog fetch` command line. */
function fetchCommandLine(record: CrashRecord, coreUrl: string): string[] {
  const line = [COREDOG_BINARY, "fetch", coreUrl, "--out", CORE_PATH];
  line.push("--sha256", record.corefile.sha256, "--compression", record.corefile.compression);
  if (record.corefile.rawBytes > 0) line.push("--raw-bytes", String(record.corefile.rawBytes));
  return line;
}

/** The v1 Pod to create in the crash's namespace. */
export function buildDebugPod(record: CrashRecord, options: DebugPodOptions): Record<string, unknown> {
  const node = record.pod.node ?? record.node?.name;
  const mount = { name: "cores", mountPath: CORE_DIR };
  const spec: Record<string, unknown> = {
    shareProcessNamespace: true,
    restartPolicy: "Never",
    activeDeadlineSeconds: options.lifetimeSeconds,
    terminationGracePeriodSeconds: 0,
    automountServiceAccountToken: false,
    volumes: [{ name: "cores", emptyDir: {} }],
    initContainers: [{
      name: "fetch-core",
      image: options.coredogImage,
      command: fetchCommandLine(record, options.coreUrl),
      volumeMounts: [mount],
    }],
    containers: [
      { name: "app", image: options.appImage, command: appCommand(options.lifetimeSeconds) },
      {
        name: "debugger",
        image: options.debuggerImage,
        command: ["sh", "-c", debuggerScript(options.lifetimeSeconds)],
        stdin: true,
        tty: true,
        volumeMounts: [mount],
        ...(options.ptrace ? { securityContext: { capabilities: { add: ["SYS_PTRACE"] } } } : {}),
      },
    ],
  };
  // The crash's node most likely has the image already; any node that can pull it will do.
  if (node) {
    spec.affinity = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{
          weight: 100,
          preference: { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [node] }] },
        }],
      },
    };
  }
  if (options.imagePullSecrets?.length) spec.imagePullSecrets = options.imagePullSecrets.map((name) => ({ name }));
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: debugPodName(record),
      namespace: record.pod.namespace,
      labels: {
        "app.kubernetes.io/name": "coredog",
        "app.kubernetes.io/component": "debug",
        "coredog.io/core-id": record.id,
      },
      annotations: {
        "coredog.io/crashed-pod": `${record.pod.namespace}/${record.pod.name}`,
        "coredog.io/metadata-key": record.storage?.metadataKey ?? "",
      },
    },
    spec,
  };
}

/**
 * gdb on the core, run in the debugger container: waits for the app's pid,
 * then uses its root as sysroot (set before the core is loaded, so that the
 * shared libraries resolve there) and its executable.
 */
export function gdbShellCommand(record: CrashRecord): string {
  const exe = record.process.executablePath;
  const files = exe && exe.startsWith("/") ? `"/proc/$p/root${exe}" ${CORE_PATH}` : `-c ${CORE_PATH}`;
  return `until [ -s ${APP_PID_PATH} ]; do sleep 1; done; p=$(cat ${APP_PID_PATH}); ` +
    `exec gdb -q -iex "set sysroot /proc/$p/root" ${files}`;
}

/** The one command that opens gdb on the core, for a terminal. */
export function kubectlExecCommand(
  record: CrashRecord,
  options: { context?: string; kubeconfig?: string } = {},
): string {
  const words = ["kubectl"];
  if (options.kubeconfig) words.push("--kubeconfig", shellQuote(options.kubeconfig));
  if (options.context) words.push("--context", shellQuote(options.context));
  words.push("exec", "-it", "-n", record.pod.namespace ?? "default", debugPodName(record), "-c", "debugger", "--");
  words.push("sh", "-c", shellQuote(gdbShellCommand(record)));
  return words.join(" ");
}

/** Quotes `text` for a POSIX shell when it needs it. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replaceAll("'", `'"'"'`)}'`;
}
