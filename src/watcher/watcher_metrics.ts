/**
 * The watcher's Prometheus metrics.
 *
 * @module
 */

import { type Counter, type Gauge, type Histogram, Registry } from "../metrics.ts";
import type { DispatcherMetrics } from "../notify/dispatcher.ts";

/** Every metric the watcher exports. */
export interface WatcherMetrics {
  registry: Registry;
  coresSeen: Counter;
  coresUploaded: Counter;
  uploadFailures: Counter;
  bytesRead: Counter;
  bytesStored: Counter;
  refused: Counter;
  unattributed: Counter;
  /** Pod lookups for enrichment, by `source`: `cache`, `tombstone` (a deleted pod) or `api` (a GET). */
  podLookups: Counter;
  truncated: Counter;
  notStored: Counter;
  evicted: Counter;
  queueDepth: Gauge;
  uploadSeconds: Histogram;
  notifications: DispatcherMetrics;
}

/** Creates the watcher's metrics in a fresh registry. */
export function createWatcherMetrics(): WatcherMetrics {
  const registry = new Registry();
  return {
    registry,
    coresSeen: registry.counter("coredog_cores_seen_total", "Core files found under CorefileDir"),
    coresUploaded: registry.counter("coredog_cores_uploaded_total", "Cores stored and verified"),
    uploadFailures: registry.counter(
      "coredog_upload_failures_total",
      "Failed attempts to store a core (each is retried)",
    ),
    bytesRead: registry.counter("coredog_bytes_read_total", "Raw core bytes read from disk"),
    bytesStored: registry.counter("coredog_bytes_stored_total", "Compressed bytes stored"),
    refused: registry.counter(
      "coredog_refused_files_total",
      "Files refused (symlinks, FIFOs, hard links...) by reason",
    ),
    unattributed: registry.counter("coredog_unattributed_cores_total", "Cores found without a known pod"),
    podLookups: registry.counter("coredog_pod_lookups_total", "Pod lookups by source: cache, tombstone or api (a GET)"),
    truncated: registry.counter(
      "coredog_truncated_cores_total",
      "Cores found shorter than their headers promise",
    ),
    notStored: registry.counter(
      "coredog_cores_not_stored_total",
      "Cores deleted from the node without being stored, by reason (too-large, container-cap, disk-full)",
    ),
    evicted: registry.counter(
      "coredog_local_copies_evicted_total",
      "Local copies of stored cores deleted by the disk guard",
    ),
    queueDepth: registry.gauge("coredog_queue_depth", "Cores waiting to be processed or retried"),
    uploadSeconds: registry.histogram("coredog_upload_seconds", "Time to compress, store and verify one core", [
      0.1,
      0.5,
      1,
      5,
      15,
      60,
      300,
      1800,
    ]),
    notifications: {
      sent: registry.counter("coredog_notifications_sent_total", "Messages accepted by a channel"),
      failed: registry.counter("coredog_notifications_failed_total", "Messages a channel did not accept"),
      filtered: registry.counter("coredog_notifications_filtered_total", "Messages skipped by a channel's keyword"),
      folded: registry.counter("coredog_notifications_folded_total", "Crashes folded into a crash-loop digest"),
      retried: registry.counter("coredog_notifications_retried_total", "Failed attempts that were retried"),
      digests: registry.counter("coredog_crash_loop_digests_total", "Crash-loop digests queued"),
    },
  };
}
