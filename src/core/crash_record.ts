/**
 * The crash record: everything CoreDog knows about one core, handed to the
 * notifiers and stored as the JSON metadata object beside the core.
 *
 * @module
 */

import type { CrashSite } from "./crash_signature.ts";
import type { CoreFacts } from "./elf_core.ts";

/** How the core was attributed to a pod. */
export interface AttributionFacts {
  /** `container`: namespace, pod and container known; `pod`: container unknown; `unattributed`: none known. */
  kind: "container" | "pod" | "unattributed";
  /** Why the core could not be attributed (unattributed only). */
  reason?: string;
}

/** The workload that owns the pod. */
export interface WorkloadRef {
  /** e.g. `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `ReplicaSet`. */
  kind: string;
  name: string;
}

/** Pod facts: namespace and name from the dump path, the rest from the Kubernetes API. */
export interface PodFacts {
  namespace?: string;
  name?: string;
  uid?: string;
  /** Node the pod runs on (from the API, else the watcher's node). */
  node?: string;
  ip?: string;
  labels?: Record<string, string>;
  workload?: WorkloadRef;
}

/** Container facts. */
export interface ContainerFacts {
  name?: string;
  image?: string;
  imageID?: string;
  restartCount?: number;
}

/** The core file itself. */
export interface CorefileFacts {
  /** Path on the node when captured. */
  path: string;
  filename: string;
  /** `elf-core`, `elf` (an ELF file that is not a core) or `not-elf`. */
  format: "elf-core" | "elf" | "not-elf";
  /** True when the file is shorter than its ELF headers promise. */
  truncated: boolean;
  /** Size the ELF headers promise (ELF cores only). */
  expectedBytes?: number;
  rawBytes: number;
  storedBytes: number;
  /** Hex SHA-256 of the raw (uncompressed) core. */
  sha256: string;
  compression: "zstd" | "gzip" | "none";
}

/** Where the core was stored. */
export interface StoredFacts {
  /** `s3` or `local`. */
  backend: string;
  bucket?: string;
  key: string;
  metadataKey: string;
  /** Download link: presigned URL, public URL or local path. */
  url: string;
  /** When a presigned URL stops working, ISO 8601. */
  urlExpiresAt?: string;
}

/**
 * How often a crash signature was seen across the cluster, from the
 * signature state in the object store (see `signature_registry.ts`).
 */
export interface SignatureSighting {
  /** True for the first core of this signature anywhere: its message says "new crash". */
  first: boolean;
  /** Cores of this signature seen so far, this one included. */
  count: number;
  /** Distinct pods and nodes among them. */
  pods: number;
  nodes: number;
  /** When the signature was first seen, ISO 8601 UTC. */
  since: string;
  /** Whether this core gets a message now or folds into its window's digest; absent with grouping off. */
  group?: GroupDecision;
}

/** A window of one signature's digest (`core/crash_digest.ts`), ms since the epoch. */
export interface DigestWindow {
  start: number;
  end: number;
}

/** The per-core decision of grouping, kept in the record's sighting. */
export interface GroupDecision {
  /** `notify`: a message of its own now; `fold`: it goes into the window's digest. */
  verdict: "notify" | "fold";
  window: DigestWindow;
  /** True when this watcher created the window's claim and sends its digest. */
  claimant: boolean;
}

/** Everything known about one captured core. */
export interface CrashRecord {
  /** Stable id of this core file (hash of device, inode, size and mtime). */
  id: string;
  /** When the kernel finished writing the core (its mtime), ISO 8601 UTC. */
  crashedAt: string;
  /** When CoreDog stored it, ISO 8601 UTC. */
  capturedAt: string;
  cluster: string;
  /** The node the watcher runs on. */
  node: { name: string; ip: string };
  attribution: AttributionFacts;
  pod: PodFacts;
  container: ContainerFacts;
  process: CoreFacts;
  /** Crash site, frames, build-ids and signature read from the core; absent in records from before signatures. */
  crash?: CrashSite;
  /** How often the signature was seen across nodes; absent when unknown (no signature, store unavailable). */
  sighting?: SignatureSighting;
  corefile: CorefileFacts;
  storage: StoredFacts;
  /** True when the local file was deleted after the verified upload. */
  deletedLocal: boolean;
  /** Why the core was not stored (size limit, crash-loop cap, full disk); absent when it was. */
  notStored?: string;
  /** Things that went wrong but did not stop the capture (API down, truncated core...). */
  problems: string[];
  coredogVersion: string;
}
