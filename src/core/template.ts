/**
 * Message templates: `{pod.namespace}`-style variables filled from a crash
 * record.
 *
 * Unknown variables are found when the configuration is loaded (a typo in a
 * template must not surface as a broken message during an incident), and a
 * value that is not known renders as `unknown`, never as an empty string.
 *
 * @module
 */

import type { CrashRecord, SignatureSighting } from "./crash_record.ts";
import { framesText } from "./crash_signature.ts";

/** Shown for a value that is not known. */
export const UNKNOWN = "unknown";

type Getter = (record: CrashRecord) => string | number | undefined;

/** Every template variable, with how to read it and what it means. */
export const TEMPLATE_VARIABLES: Record<string, { get: Getter; doc: string }> = {
  "pod.namespace": { get: (r) => r.pod.namespace, doc: "Namespace of the crashed pod" },
  "pod.name": { get: (r) => r.pod.name, doc: "Pod name" },
  "pod.uid": { get: (r) => r.pod.uid, doc: "Pod UID (from the Kubernetes API)" },
  "pod.node": { get: (r) => r.pod.node ?? r.node.name, doc: "Node the pod ran on" },
  "pod.ip": { get: (r) => r.pod.ip, doc: "Pod IP" },
  "host.ip": { get: (r) => r.node.ip, doc: "IP of the node" },
  "node.name": { get: (r) => r.node.name, doc: "Name of the node" },
  "cluster.name": { get: (r) => r.cluster || undefined, doc: "`ClusterName` from the configuration" },
  "container.name": { get: (r) => r.container.name, doc: "Container that crashed" },
  "container.image": { get: (r) => r.container.image, doc: "Its image" },
  "container.restarts": { get: (r) => r.container.restartCount, doc: "Its restart count" },
  "workload": {
    get: (r) => r.pod.workload ? `${r.pod.workload.kind}/${r.pod.workload.name}` : undefined,
    doc: "Owning workload, e.g. `Deployment/web`",
  },
  "workload.kind": { get: (r) => r.pod.workload?.kind, doc: "e.g. `Deployment`" },
  "workload.name": { get: (r) => r.pod.workload?.name, doc: "e.g. `web`" },
  "signal": {
    get: (r) => r.process.signal !== undefined ? `${r.process.signalName} (${r.process.signal})` : undefined,
    doc: "e.g. `SIGSEGV (11)`",
  },
  "signal.number": { get: (r) => r.process.signal, doc: "e.g. `11`" },
  "signal.name": { get: (r) => r.process.signalName, doc: "e.g. `SIGSEGV`" },
  "crash.signature": {
    get: (r) => r.crash ? (r.crash.signature ?? `none (${r.crash.noSignature})`) : undefined,
    doc: "Crash signature, equal for the same crash site: e.g. `76b3a2e2b393fda7`, or `none (<why>)`",
  },
  "crash.site": { get: (r) => r.crash?.site, doc: "Where it crashed as `module+0xoffset`, e.g. `server+0x1139`" },
  "crash.frames": {
    get: (r) => r.crash?.frames.length ? framesText(r.crash.frames) : undefined,
    doc: "The crashing thread's stack as `module+0xoffset` frames, with function names when debuginfod has them",
  },
  "crash.unwind": {
    get: (r) => r.crash?.unwind,
    doc: "`frame-pointer` (frames linked) or `scanned` (return addresses searched for on the stack)",
  },
  "crash.buildid": { get: (r) => r.crash?.buildId, doc: "GNU build-id of the executable (as `readelf -n` shows it)" },
  "crash.modules": {
    get: (r) =>
      r.crash?.modules.length
        ? r.crash.modules.map((m) => `${m.name} ${m.buildId ?? "no-build-id"}`).join(", ")
        : undefined,
    doc: "The executable and each module in the frames with its build-id",
  },
  "crash.seen": {
    get: (r) => r.sighting ? sightingText(r.sighting) : r.crash?.noSignature ? "no signature" : undefined,
    doc: "`new crash`, or `seen 14 times in 5 pods on 3 nodes since 2026-12-01 09:12` (UTC)",
  },
  "process.executable": { get: (r) => r.process.executable, doc: "Executable name (`comm`, 15 bytes at most)" },
  "process.path": { get: (r) => r.process.executablePath, doc: "Executable path" },
  "process.args": { get: (r) => r.process.args, doc: "Command line (first 80 bytes)" },
  "process.pid": { get: (r) => r.process.pid, doc: "PID inside the container" },
  "corefile.path": { get: (r) => r.corefile.path, doc: "Path of the core on the node" },
  "corefile.filename": { get: (r) => r.corefile.filename, doc: "File name of the core" },
  "corefile.url": { get: (r) => r.storage.url, doc: "Download link (presigned URL, public URL or local path)" },
  "corefile.url_expires": { get: (r) => r.storage.urlExpiresAt, doc: "When a presigned link stops working (UTC)" },
  "corefile.key": { get: (r) => r.storage.key, doc: "Object key" },
  "corefile.size": { get: (r) => humanBytes(r.corefile.rawBytes), doc: "Core size, e.g. `1.2 GiB`" },
  "corefile.stored_size": { get: (r) => humanBytes(r.corefile.storedBytes), doc: "Stored (compressed) size" },
  "corefile.bytes": { get: (r) => r.corefile.rawBytes, doc: "Core size in bytes" },
  "corefile.stored_bytes": { get: (r) => r.corefile.storedBytes, doc: "Stored size in bytes" },
  "corefile.sha256": { get: (r) => r.corefile.sha256, doc: "SHA-256 of the raw core" },
  "corefile.truncated": { get: (r) => r.corefile.truncated ? "yes" : "no", doc: "`yes` when the core is incomplete" },
  "time": { get: (r) => r.crashedAt, doc: "Crash time (UTC, ISO 8601)" },
  "problems": {
    get: (r) => r.problems?.length ? r.problems.join("; ") : "none",
    doc: "What went wrong without stopping the capture (API down, truncated core...), or `none`",
  },
};

/** The template used when `messageTemplate` is empty. */
export const DEFAULT_TEMPLATE = [
  "[{pod.namespace}/{pod.name}] core: {corefile.filename}",
  "container: {container.name} ({container.image})",
  "workload: {workload}",
  "signal: {signal}",
  "crash: {crash.site}, {crash.seen}",
  "signature: {crash.signature}, frames: {crash.frames}",
  "process: {process.executable} pid {process.pid}: {process.args}",
  "node: {node.name} ({host.ip}), cluster: {cluster.name}",
  "size: {corefile.size} raw, {corefile.stored_size} stored",
  "time: {time}",
  "download: {corefile.url}",
].join("\n");

const VARIABLE = /\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}/g;

/** Names of the variables in `template` that CoreDog does not know. */
export function unknownVariables(template: string): string[] {
  const unknown = new Set<string>();
  for (const match of template.matchAll(VARIABLE)) {
    if (!(match[1] in TEMPLATE_VARIABLES)) unknown.add(match[1]);
  }
  return [...unknown];
}

/** Fills `template` from `record`; unknown values render as `unknown`. */
export function renderTemplate(template: string, record: CrashRecord): string {
  return template.replace(VARIABLE, (whole, name: string) => {
    const variable = TEMPLATE_VARIABLES[name];
    if (!variable) return whole;
    const value = variable.get(record);
    return value === undefined || value === "" ? UNKNOWN : String(value);
  });
}

/** `new crash`, or `seen 14 times in 5 pods on 3 nodes since 2026-12-01 09:12`. */
export function sightingText(sighting: SignatureSighting): string {
  if (sighting.first) return "new crash";
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const since = sighting.since.slice(0, 16).replace("T", " ");
  return `seen ${plural(sighting.count, "time")} in ${plural(sighting.pods, "pod")} on ${
    plural(sighting.nodes, "node")
  } since ${since}`;
}

/** `1288490188` becomes `1.2 GiB`. */
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
