/**
 * What happens to one complete core file: attribute it, read its crash
 * facts, ask the Kubernetes API about its pod, check the limits, compress
 * and upload it, verify the upload, remember it, clean up the node, notify.
 *
 * The order is what makes it lose nothing: the local file is deleted only
 * after the stored object was verified and the ledger records it, and the
 * notification goes out from the ledger, so a kill at any step is resumed
 * after a restart. A failure before that point is thrown to the scheduler,
 * which retries with backoff while the file stays where it is.
 *
 * @module
 */

import type fs from "node:fs";
import { basename } from "node:path";
import type { CoredogConfig } from "../core/config.ts";
import type { ContainerCap } from "../core/container_cap.ts";
import type { CrashRecord, SignatureSighting } from "../core/crash_record.ts";
import { parseDumpPath } from "../core/dump_path.ts";
import { coreDumpEvent } from "../core/kube_event.ts";
import { buildObjectKeys } from "../core/object_key.ts";
import { podFacts } from "../core/pod_facts.ts";
import { humanBytes } from "../core/template.ts";
import type { KubeClient } from "../kube/client.ts";
import type { Logger } from "../log.ts";
import type { Storage } from "../storage/mod.ts";
import { VERSION } from "../version.ts";
import { type CoreFileFacts, readCoreFacts } from "./core_facts_reader.ts";
import type { DebuginfodClient } from "./debuginfod_client.ts";
import type { Ledger, LedgerEntry } from "./ledger.ts";
import type { NotifyTracker } from "./notify_tracker.ts";
import { openSafely, removeIfSame } from "./safe_file.ts";
import { signatureOptions, signatureRegistryFor } from "./signature_registry.ts";
import { uploadCore } from "./upload.ts";
import type { WatcherMetrics } from "./watcher_metrics.ts";

/** What the pipeline needs. */
export interface PipelineDeps {
  config: CoredogConfig;
  storage: Storage;
  ledger: Ledger;
  notifications: NotifyTracker;
  /** Per-container crash-loop cap. */
  cap: ContainerCap;
  /** Undefined outside a cluster or with `Watcher.Kubernetes: off`. */
  kube?: KubeClient;
  /** The node's pod cache (live pods, tombstones, GET for the rest); `kube.getPod` without it. */
  pods?: Pick<KubeClient, "getPod">;
  /** Names the frames from debuginfod (`Watcher.DebuginfodURLs`); absent: frames stay `module+0xoffset`. */
  symbols?: Pick<DebuginfodClient, "nameFrames">;
  logger: Logger;
  metrics: WatcherMetrics;
  node: { name: string; ip: string };
}

/** A file the scheduler found complete. */
export interface ReadyFile {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /** True when the truncation timeout, not completeness, made it ready. */
  truncatedByTimeout: boolean;
  /** 1 for the first try. */
  attempt: number;
}

/** How processing ended, short of an error to retry. */
export type PipelineOutcome =
  | { kind: "done" }
  | { kind: "short"; expectedBytes: number }
  | { kind: "changed" }
  | { kind: "refused"; reason: string }
  | { kind: "gone" };

/** Why a core is not stored: `code` labels the metric, `text` goes into the log and the message. */
export interface NotStoredReason {
  code: "too-large" | "container-cap" | "disk-full";
  text: string;
}

/** A crash record before its core is stored: everything but the stored object. */
type Described = Omit<CrashRecord, "corefile" | "storage" | "deletedLocal"> & {
  corefile: Omit<CrashRecord["corefile"], "storedBytes" | "sha256" | "rawBytes">;
};

/** Stable id of a core file: the same file gives the same id after a restart. */
export async function coreId(file: { dev: number; ino: number; size: number; mtimeMs: number }): Promise<string> {
  const text = `${file.dev}:${file.ino}:${file.size}:${file.mtimeMs}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Processes one ready core; throws when it should be retried. */
export async function processCore(file: ReadyFile, deps: PipelineDeps): Promise<PipelineOutcome> {
  const id = await coreId(file);
  const known = await deps.ledger.get(id);
  if (known) {
    await finishLocal(file, known, deps);
    return { kind: "done" };
  }

  const opened = await openSafely(file.path, file);
  if (!opened.ok) return opened.reason === "gone" ? { kind: "gone" } : { kind: "refused", reason: opened.reason };
  const { handle, stat } = opened;
  try {
    if (stat.size !== file.size || stat.mtimeMs !== file.mtimeMs) return { kind: "changed" };
    const core = await readCoreFacts(handle, file.size, { crashSiteWhenShort: file.truncatedByTimeout });
    const short = core.expectedBytes !== undefined && file.size < core.expectedBytes;
    if (short && !file.truncatedByTimeout) return { kind: "short", expectedBytes: core.expectedBytes! };

    const described = await describe(file, { id, core, log: file.attempt === 1 }, deps);
    const limit = limitReason(file, described, deps);
    if (limit) {
      await dropCore(file, { described, reason: limit }, deps);
      return { kind: "done" };
    }
    const entry = await store(file, { handle, described }, deps);
    recordEvent(entry.record, deps);
    await finishLocal(file, entry, deps);
    return { kind: "done" };
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * Deletes a core that is not stored (the disk guard's last resort, the
 * crash-loop cap, the size limit) and reports which pod lost which core.
 * Reads only the core's headers for the message.
 */
export async function dropUnstored(
  file: { path: string; dev: number; ino: number; size: number; mtimeMs: number },
  reason: NotStoredReason,
  deps: PipelineDeps,
): Promise<void> {
  const opened = await openSafely(file.path, file);
  if (!opened.ok) return;
  let core: CoreFileFacts;
  try {
    core = await readCoreFacts(opened.handle, file.size);
  } finally {
    await opened.handle.close();
  }
  const described = await describe(file, { id: await coreId(file), core, log: true }, deps);
  await dropCore(file, { described, reason }, deps);
}

/**
 * After a verified upload: delete the local file when configured and hand
 * the record to the notifiers once. The ledger entry stays until the
 * notification is settled (see `notify_tracker.ts`).
 */
async function finishLocal(
  file: { path: string; dev: number; ino: number },
  entry: LedgerEntry,
  deps: PipelineDeps,
): Promise<void> {
  let deleted = false;
  if (deps.config.storage.deleteLocalCorefile) {
    deleted = await removeIfSame(file.path, file);
    if (deleted) deps.logger.info(`deleted local corefile: ${file.path}`);
  }
  if (!entry.notified) deps.notifications.publish(entry, deleted);
  else if (deleted) await deps.ledger.forget(entry.id);
}

/** Attribution, Kubernetes facts and crash facts; logs the seed's lines on the first attempt. */
async function describe(
  file: { path: string; size: number; mtimeMs: number },
  options: { id: string; core: CoreFileFacts; log: boolean },
  deps: PipelineDeps,
): Promise<Described> {
  const { logger, metrics, config } = deps;
  const { core, log } = options;
  if (log) logger.info(`capture a file:${file.path}`, { size: file.size });
  const attribution = parseDumpPath(config.corefileDir, file.path);
  const problems = [...core.problems];
  let pod: CrashRecord["pod"] = {};
  let container: CrashRecord["container"] = {};
  if (attribution.kind === "unattributed") {
    if (log) {
      logger.warn(`unattributed core: ${attribution.reason}`, { path: file.path });
      metrics.unattributed.inc();
    }
    problems.push(`unattributed: ${attribution.reason}`);
  } else {
    if (log) {
      logger.info(`resolved pod from webhook path: ${attribution.namespace}/${attribution.pod}`, {
        container: attribution.kind === "container" ? attribution.container : undefined,
      });
    }
    pod = { namespace: attribution.namespace, name: attribution.pod };
    container = attribution.kind === "container" ? { name: attribution.container } : {};
    const enriched = await enrich(attribution.namespace, attribution.pod, container.name, deps);
    if (enriched.problem) problems.push(enriched.problem);
    if (enriched.facts) {
      pod = { ...pod, ...withoutUndefined(enriched.facts.pod) };
      container = { ...container, ...withoutUndefined(enriched.facts.container) };
    }
  }
  const truncated = core.expectedBytes !== undefined && file.size < core.expectedBytes;
  if (truncated) {
    problems.push(`truncated: ${file.size} of ${core.expectedBytes} bytes`);
    if (log) {
      logger.warn("core is truncated", { path: file.path, size: file.size, expected: core.expectedBytes });
      metrics.truncated.inc();
    }
  }
  return {
    id: options.id,
    crashedAt: new Date(file.mtimeMs).toISOString(),
    capturedAt: new Date().toISOString(),
    cluster: config.clusterName,
    node: deps.node,
    attribution: attribution.kind === "unattributed"
      ? { kind: "unattributed", reason: attribution.reason }
      : { kind: container.name ? "container" : "pod" },
    pod,
    container,
    process: core.facts,
    crash: core.crash,
    corefile: {
      path: file.path,
      filename: basename(file.path),
      format: core.format,
      truncated,
      expectedBytes: core.expectedBytes,
      compression: config.storage.compression,
    },
    problems,
    coredogVersion: VERSION,
  };
}

/** The size limit and the crash-loop cap; undefined when the core may be stored. */
function limitReason(file: ReadyFile, described: Described, deps: PipelineDeps): NotStoredReason | undefined {
  const { watcher } = deps.config;
  if (watcher.maxCoreBytes !== undefined && file.size > watcher.maxCoreBytes) {
    return {
      code: "too-large",
      text: `core of ${humanBytes(file.size)} is larger than Watcher.MaxCoreSize (${humanBytes(watcher.maxCoreBytes)})`,
    };
  }
  const who = described.pod.name
    ? `${described.pod.namespace}/${described.pod.name}/${described.container.name ?? "_pod"}`
    : "_unattributed";
  // Only first attempts count: a retry is the same core, already admitted.
  if (file.attempt === 1 && !deps.cap.admit(who, Date.now())) {
    return {
      code: "container-cap",
      text: `more than ${watcher.maxCoresPerContainerPerHour} cores of ${who} in the last hour ` +
        "(Watcher.MaxCoresPerContainerPerHour)",
    };
  }
  return undefined;
}

/** Compresses, uploads and verifies the core, writes its metadata and records it in the ledger. */
async function store(
  file: ReadyFile,
  input: { handle: fs.promises.FileHandle; described: Described },
  deps: PipelineDeps,
): Promise<LedgerEntry> {
  const { config, metrics, logger } = deps;
  const { described } = input;
  const compression = config.storage.compression;
  const keys = buildObjectKeys({
    storeDir: config.storage.storeDir,
    namespace: described.pod.namespace,
    pod: described.pod.name,
    container: described.container.name,
    crashedAtMs: file.mtimeMs,
    executable: described.process.executable,
    pid: described.process.pid,
    filename: basename(file.path),
    id: described.id,
    compression,
  });
  const started = performance.now();
  // Marked before the first byte goes out, so that a kill mid-upload lets
  // the next start clean up the incomplete multipart upload.
  await deps.ledger.markUploading(described.id, keys.core);
  const result = await uploadCore(input.handle, { storage: deps.storage, key: keys.core }, {
    compression,
    level: config.storage.compressionLevel,
    onRead: (bytes) => metrics.bytesRead.inc({}, bytes),
    source: { path: file.path, dev: file.dev, ino: file.ino, size: file.size },
  });
  const storedSize = await deps.storage.size(keys.core);
  if (storedSize !== result.storedBytes) {
    throw new Error(
      `verification failed for ${keys.core}: the store holds ${
        storedSize ?? "no"
      } bytes, ${result.storedBytes} were sent`,
    );
  }
  if (result.rawBytes !== file.size) {
    throw new Error(`read ${result.rawBytes} bytes of ${file.path}, expected ${file.size}; the file changed`);
  }
  metrics.uploadSeconds.observe((performance.now() - started) / 1000);
  metrics.bytesStored.inc({}, result.storedBytes);
  const link = await deps.storage.downloadLink(keys.core);
  const record: CrashRecord = {
    ...described,
    corefile: {
      ...described.corefile,
      rawBytes: result.rawBytes,
      storedBytes: result.storedBytes,
      sha256: result.sha256,
    },
    storage: {
      backend: deps.storage.backend,
      bucket: deps.storage.bucket,
      key: keys.core,
      metadataKey: keys.metadata,
      url: link.url,
      urlExpiresAt: link.expiresAt,
    },
    deletedLocal: false,
  };
  if (deps.symbols && record.crash) record.crash = await deps.symbols.nameFrames(record.crash);
  record.sighting = await sightSignature(record, deps);
  await deps.storage.putJson(keys.metadata, metadataOf(record));
  const entry: LedgerEntry = {
    id: described.id,
    path: file.path,
    dev: file.dev,
    ino: file.ino,
    key: keys.core,
    metadataKey: keys.metadata,
    storedBytes: result.storedBytes,
    uploadedAt: record.capturedAt,
    notified: false,
    record,
  };
  await deps.ledger.put(entry);
  await deps.ledger.clearUploading(described.id);
  metrics.coresUploaded.inc();
  logger.info("stored core", {
    path: file.path,
    key: keys.core,
    raw_bytes: result.rawBytes,
    stored_bytes: result.storedBytes,
    seconds: ((performance.now() - started) / 1000).toFixed(3),
  });
  return entry;
}

/**
 * Records the core under its crash signature in the store and returns how
 * often the signature was seen; undefined without a signature or when the
 * store cannot answer (the message then cannot say "new crash").
 */
async function sightSignature(record: CrashRecord, deps: PipelineDeps): Promise<SignatureSighting | undefined> {
  if (!record.crash?.signature) return undefined;
  const registry = signatureRegistryFor(deps.storage, signatureOptions(deps.config));
  try {
    return await registry.observe(record);
  } catch (error) {
    deps.logger.warn("crash signature state unavailable; the message cannot say whether the crash is new", {
      signature: record.crash.signature,
      error: (error as Error).message,
    });
    return undefined;
  }
}

/** Deletes the core from the node and announces it as not stored. */
async function dropCore(
  file: { path: string; dev: number; ino: number; size: number },
  input: { described: Described; reason: NotStoredReason },
  deps: PipelineDeps,
): Promise<void> {
  const { described, reason } = input;
  const deleted = await removeIfSame(file.path, file);
  const who = described.pod.name ? `${described.pod.namespace}/${described.pod.name}` : "an unattributed pod";
  deps.metrics.notStored.inc({ reason: reason.code });
  deps.logger.error(`core not stored: ${reason.text}`, {
    path: file.path,
    pod: who,
    container: described.container.name,
    size: file.size,
    deleted_local: deleted,
  });
  const record: CrashRecord = {
    ...described,
    corefile: { ...described.corefile, rawBytes: file.size, storedBytes: 0, sha256: "" },
    storage: {
      backend: deps.storage.backend,
      bucket: deps.storage.bucket,
      key: "",
      metadataKey: "",
      url: `not stored: ${reason.text}`,
    },
    deletedLocal: deleted,
    notStored: reason.text,
    problems: [...described.problems, `not stored: ${reason.text}`],
  };
  deps.notifications.announce(record);
}

async function enrich(
  namespace: string,
  podName: string,
  containerName: string | undefined,
  deps: PipelineDeps,
): Promise<{ facts?: ReturnType<typeof podFacts>; problem?: string }> {
  const pods = deps.pods ?? deps.kube;
  if (!pods) return {};
  try {
    const object = await pods.getPod(namespace, podName);
    if (!object) {
      deps.logger.warn("pod no longer exists; storing the core with what the path tells", {
        pod: `${namespace}/${podName}`,
      });
      return { problem: "pod not found in the Kubernetes API" };
    }
    return { facts: podFacts(object, containerName) };
  } catch (error) {
    deps.logger.warn("kubernetes API unavailable; storing the core with what the path tells", {
      pod: `${namespace}/${podName}`,
      error: (error as Error).message,
    });
    return { problem: `kubernetes API: ${(error as Error).message}` };
  }
}

function recordEvent(record: CrashRecord, deps: PipelineDeps): void {
  if (!deps.kube || !record.pod.namespace || !record.pod.uid) return;
  const event = coreDumpEvent(record, new Date());
  if (!event) return;
  deps.kube.createEvent(record.pod.namespace, event).catch((error) => {
    deps.logger.warn("could not record the CoreDumpCaptured event", { error: (error as Error).message });
  });
}

/** The metadata object: the record without what expires or is not yet known. */
function metadataOf(record: CrashRecord): Record<string, unknown> {
  const { deletedLocal: _deleted, storage, ...rest } = record;
  const { url: _url, urlExpiresAt: _expires, ...where } = storage;
  return { ...rest, storage: where };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
