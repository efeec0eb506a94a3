/**
 * `coredog debug ID`: a pod in the crash's namespace with the core, the
 * crashed image pinned by digest and gdb, and the one command that opens
 * gdb on the core; `--delete` removes it. The pod itself is built by
 * `src/core/debug_pod.ts`.
 *
 * @module
 */

import { stringify as toYaml } from "yaml";
import { parseSince } from "../core/core_listing.ts";
import {
  buildDebugPod,
  debugPodName,
  type DebugPodOptions,
  kubectlExecCommand,
  pinnedImage,
} from "../core/debug_pod.ts";
import { VERSION } from "../version.ts";
import { expectPositionals, type ParsedArgs, UsageError } from "./args.ts";
import { checkId, lookupCore } from "./catalog.ts";
import { ApiRefusal, connectCluster } from "./cluster_api.ts";
import type { CliIo, Command } from "./command.ts";
import { CONFIG_FLAGS, CONFIG_HELP, loadCliConfig, openStore } from "./config_source.ts";
import { FILTER_FLAGS, FILTER_HELP, filterOf } from "./list.ts";

/** The CoreDog image of this version, as the chart runs it (charts/values.yaml `image`). */
export const DEFAULT_COREDOG_IMAGE = `ghcr.io/coredog/coredog:${VERSION}`;
/** The Dockerfile's `debugger` target: Debian with gdb. */
export const DEFAULT_DEBUGGER_IMAGE = `ghcr.io/coredog/coredog-debugger:${VERSION}`;
/** How long the init container has to start downloading: pulling the CoreDog image comes first. */
export const LINK_SECONDS = 15 * 60;
const DEFAULT_LIFETIME = "4h";

/** The `debug` verb. */
export const debugCommand: Command = {
  name: "debug",
  summary: "start a pod that opens the core in gdb with the crashed image's own files",
  flags: {
    ...FILTER_FLAGS,
    delete: { kind: "switch" },
    "dry-run": { kind: "switch" },
    image: { kind: "value", metavar: "IMAGE@sha256:DIGEST" },
    "coredog-image": { kind: "value", metavar: "IMAGE" },
    "debugger-image": { kind: "value", metavar: "IMAGE" },
    lifetime: { kind: "value", metavar: "DURATION" },
    "image-pull-secret": { kind: "list", metavar: "NAME" },
    "no-ptrace": { kind: "switch" },
    ...CONFIG_FLAGS,
  },
  help: `Usage: coredog debug ID [--delete] [--dry-run] [--image IMAGE@sha256:DIGEST] [--lifetime 4h]
                     (--config FILE | --from-cluster) [--kubeconfig FILE] [--context NAME]

Creates pod coredog-debug-<ID> in the crash's namespace, with your kubeconfig:
  - init container fetch-core (the CoreDog image) downloads the core through a presigned link that
    works for ${LINK_SECONDS / 60} minutes, decompresses it and checks its SHA-256 into /cores/core;
  - container app: the crashed container's image by digest (container.imageID of the metadata, else
    container.image when the pod spec names it by digest), running "sleep", so that its files are
    visible as /proc/<pid>/root;
  - container debugger: an image with gdb, sharing the process namespace and /cores.
Prints on stdout the one kubectl exec command that opens gdb on the core with the app's root as
sysroot. Refuses when the metadata has no image digest (pass --image to choose one yourself).

  --delete                   delete the debug pod of ID instead
  --dry-run                  print the pod as YAML instead of creating it (the link is still made)
  --image IMAGE@sha256:D     the app image, when the metadata has no digest
  --coredog-image IMAGE      image of the init container (default: ${DEFAULT_COREDOG_IMAGE})
  --debugger-image IMAGE     image with gdb and sh (default: ${DEFAULT_DEBUGGER_IMAGE})
  --lifetime DURATION        the pod ends after this long (default: ${DEFAULT_LIFETIME})
  --image-pull-secret NAME   for a private registry (repeatable)
  --no-ptrace                do not add SYS_PTRACE to the debugger (namespaces that enforce the
                             baseline Pod Security level refuse it; then the app must run as root;
                             restricted refuses the debug pod either way)

${FILTER_HELP} (they narrow the search for ID on a large bucket)

${CONFIG_HELP}

Examples:
  coredog debug 3f2a9c41d0e7 --from-cluster
  coredog debug 3f2a9c41d0e7 --from-cluster --kubeconfig ~/.kube/prod --context prod
  coredog debug 3f2a9c41d0e7 --from-cluster --delete
`,
  async run(parsed: ParsedArgs, io: CliIo): Promise<number> {
    const [id] = expectPositionals(parsed, ["ID"]);
    checkId(id);
    const filter = filterOf(parsed, io.now());
    const lifetimeText = parsed.flags.lifetime ?? DEFAULT_LIFETIME;
    const lifetimeSeconds = durationSeconds(lifetimeText, io.now());
    const override = parsed.flags.image;
    if (override !== undefined && !/^[^@\s]+@sha256:[0-9a-f]{64}$/.test(override)) {
      throw new UsageError(`--image must be pinned by digest, REPOSITORY@sha256:<64 hex>; got "${override}"`);
    }
    const config = await loadCliConfig(parsed, io);
    const { reader, cache } = await openStore(config, { parsed, io });
    const { record } = await lookupCore(reader, config.storage.storeDir, { id, filter, cache });
    const namespace = record.pod.namespace;
    if (!namespace || !record.pod.name) {
      throw new Error(`core ${record.id} is not attributed to a pod, so there is no namespace to debug it in`);
    }
    const name = debugPodName(record);
    const kube = { kubeconfig: parsed.flags.kubeconfig, context: parsed.flags.context };
    if (parsed.flags.delete === "true") {
      const deleted = await connectCluster({ ...kube, env: io.env }).deletePod(namespace, name);
      io.stderr(deleted ? `pod ${namespace}/${name} deleted\n` : `pod ${namespace}/${name} does not exist\n`);
      return 0;
    }
    if (!record.storage?.key || !record.corefile?.sha256) {
      throw new Error(`core ${record.id} was not stored: ${record.notStored ?? "its metadata names no object"}`);
    }
    const pinned = override
      ? { ok: true as const, image: override }
      : pinnedImage(record.container, { podRead: record.pod.uid !== undefined });
    if (!pinned.ok) {
      throw new Error(
        `cannot debug core ${record.id}: ${pinned.reason}. Pass --image REPOSITORY@sha256:DIGEST with the image ` +
          `that crashed (the pod's status.containerStatuses[].imageID, if the pod still exists)`,
      );
    }
    const options: DebugPodOptions = {
      coreUrl: await reader.presign(record.storage.key, LINK_SECONDS),
      coredogImage: parsed.flags["coredog-image"] ?? DEFAULT_COREDOG_IMAGE,
      debuggerImage: parsed.flags["debugger-image"] ?? DEFAULT_DEBUGGER_IMAGE,
      appImage: pinned.image,
      lifetimeSeconds,
      ptrace: parsed.flags["no-ptrace"] !== "true",
      imagePullSecrets: parsed.lists["image-pull-secret"],
    };
    const pod = buildDebugPod(record, options);
    if (parsed.flags["dry-run"] === "true") {
      io.stdout(toYaml(pod));
      return 0;
    }
    const api = connectCluster({ ...kube, env: io.env });
    const outcome = await api.createPod(namespace, pod).catch((error) => {
      throw withPodSecurityHint(error, options.ptrace);
    });
    io.stderr(
      outcome === "created"
        ? `pod ${namespace}/${name} created; it stops after ${lifetimeText}, delete it with --delete\n`
        : `pod ${namespace}/${name} already exists: using it (delete it with --delete)\n`,
    );
    io.stderr(`wait for it: kubectl wait -n ${namespace} --for=condition=Ready pod/${name}\n`);
    io.stdout(
      `${kubectlExecCommand(record, { kubeconfig: parsed.flags.kubeconfig, context: parsed.flags.context })}\n`,
    );
    return 0;
  },
};

function durationSeconds(text: string, nowMs: number): number {
  const since = /^\d/.test(text) && !text.includes("-") ? parseSince(text, nowMs) : undefined;
  const seconds = since === undefined ? 0 : Math.round((nowMs - since) / 1000);
  if (seconds < 60) throw new UsageError(`--lifetime must be a duration of at least 1m, e.g. 30m or 4h; got "${text}"`);
  return seconds;
}

/**
 * What to do when Pod Security refused the debug pod: `baseline` refuses
 * only the debugger's `SYS_PTRACE`; `restricted` also wants every
 * container non-root with no privilege escalation, which the app image,
 * run as it is, cannot promise.
 */
function withPodSecurityHint(error: unknown, ptrace: boolean): unknown {
  if (!(error instanceof ApiRefusal) || !error.podSecurity) return error;
  const hint = error.podSecurity === "baseline" && ptrace
    ? "run again with --no-ptrace (gdb can then read the app's files when the app runs as root)"
    : `the debug pod cannot pass level ${error.podSecurity}: get the core with coredog get and open it in a ` +
      "local gdb, or ask an admin for a namespace whose level admits it";
  return new ApiRefusal(`${error.message}. ${hint[0].toUpperCase()}${hint.slice(1)}`, {
    podSecurity: error.podSecurity,
  });
}
