/**
 * The Kubernetes Event CoreDog records on a pod whose core it captured, so
 * that `kubectl describe pod` shows where the core went.
 *
 * @module
 */

import type { CrashRecord } from "./crash_record.ts";

/** Reason of the event. */
const CORE_DUMP_EVENT_REASON = "CoreDumpCaptured";

/** Builds a core/v1 Event for `record`, or undefined when its pod is unknown. */
export function coreDumpEvent(record: CrashRecord, now: Date): Record<string, unknown> | undefined {
  const { namespace, name, uid } = record.pod;
  if (!namespace || !name) return undefined;
  const container = record.container.name ? ` in container ${record.container.name}` : "";
  const signal = record.process.signalName ? ` (${record.process.signalName})` : "";
  const truncated = record.corefile.truncated ? " [truncated]" : "";
  const where = record.storage.bucket ? `s3://${record.storage.bucket}/${record.storage.key}` : record.storage.key;
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${name}.coredump-`, namespace },
    involvedObject: {
      apiVersion: "v1",
      kind: "Pod",
      namespace,
      name,
      uid,
      fieldPath: record.container.name ? `spec.containers{${record.container.name}}` : undefined,
    },
    reason: CORE_DUMP_EVENT_REASON,
    message: `core of ${
      record.process.executable ?? record.corefile.filename
    }${signal}${container} stored at ${where}${truncated}`
      .slice(0, 1024),
    type: "Warning",
    source: { component: "coredog-watcher", host: record.node.name },
    reportingComponent: "coredog.io/watcher",
    reportingInstance: record.node.name,
    firstTimestamp: now.toISOString(),
    lastTimestamp: now.toISOString(),
    count: 1,
  };
}
