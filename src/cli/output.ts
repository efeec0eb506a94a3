/**
 * How `coredog list` and `coredog info` print: aligned tables like
 * `kubectl get` (`-o wide` adds columns), JSON and YAML for scripts, and
 * the labelled lines of `coredumpctl info`. Pure: strings in, strings out.
 *
 * @module
 */

import { stringify as toYaml } from "yaml";
import { shortId, signatureOf, type StoredCore } from "../core/core_listing.ts";
import type { CrashRecord } from "../core/crash_record.ts";
import { humanBytes, sightingText } from "../core/template.ts";

/** Output formats of `list` and `info`. */
export const OUTPUT_FORMATS = ["table", "wide", "json", "yaml"] as const;

/** One of {@linkcode OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** Columns separated by three spaces, each as wide as its widest cell (kubectl's layout). */
function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join("   ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** `2026-12-01 15:08:58Z`: sortable, to the second, always UTC. */
function shortTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? "-" : new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
}

function signalOf(record: CrashRecord): string {
  return record.process.signalName ?? (record.process.signal !== undefined ? String(record.process.signal) : "-");
}

function podOf(record: CrashRecord): string {
  return record.pod.namespace && record.pod.name ? `${record.pod.namespace}/${record.pod.name}` : "(unattributed)";
}

/** The `list` output in `format`; no lines at all for a table of nothing (the caller says so on stderr). */
export function renderList(cores: StoredCore[], format: OutputFormat): string {
  if (format === "json") return JSON.stringify(cores.map(listed), null, 2) + "\n";
  if (format === "yaml") return cores.length ? toYaml(cores.map(listed)) : "[]\n";
  if (cores.length === 0) return "";
  const withSignature = cores.some((core) => signatureOf(core.record));
  const header = ["TIME", "NAMESPACE/POD", "CONTAINER", "SIGNAL", "EXE", "SIZE", "ID"];
  if (withSignature || format === "wide") header.push("SIGNATURE");
  if (format === "wide") header.push("NODE", "STORED", "IMAGE");
  const rows = cores.map(({ record }) => {
    const row = [
      shortTime(record.crashedAt),
      podOf(record),
      record.container.name ?? "-",
      signalOf(record),
      record.process.executable ?? "-",
      record.corefile?.rawBytes !== undefined ? humanBytes(record.corefile.rawBytes) : "-",
      shortId(record.id),
    ];
    if (withSignature || format === "wide") row.push(signatureOf(record)?.slice(0, 16) ?? "-");
    if (format === "wide") {
      row.push(
        record.pod.node ?? record.node?.name ?? "-",
        record.corefile?.storedBytes !== undefined
          ? `${humanBytes(record.corefile.storedBytes)} ${record.corefile.compression}`
          : "-",
        record.container.image ?? "-",
      );
    }
    return row;
  });
  return renderTable(header, rows);
}

/** A listed core for JSON and YAML: the metadata as stored, and where it is. */
function listed(core: StoredCore): Record<string, unknown> {
  return { ...core.record, metadataKey: core.key };
}

/** The `info` output: every fact the metadata holds, labelled, then problems. */
export function renderInfo(core: StoredCore, format: OutputFormat): string {
  if (format === "json") return JSON.stringify(listed(core), null, 2) + "\n";
  if (format === "yaml") return toYaml(listed(core));
  const r = core.record;
  const lines: [string, string | number | undefined][] = [
    ["ID", r.id],
    ["Crashed", shortTime(r.crashedAt)],
    ["Captured", r.capturedAt ? shortTime(r.capturedAt) : undefined],
    ["Cluster", r.cluster],
    ["Namespace", r.pod.namespace],
    ["Pod", r.pod.name],
    ["Pod UID", r.pod.uid],
    ["Workload", r.pod.workload ? `${r.pod.workload.kind}/${r.pod.workload.name}` : undefined],
    ["Container", r.container.name],
    ["Image", r.container.image],
    ["Image ID", r.container.imageID],
    ["Restarts", r.container.restartCount],
    ["Node", r.pod.node ?? r.node?.name],
    ["Node IP", r.node?.ip],
    ["Pod IP", r.pod.ip],
    ["Signal", r.process.signal !== undefined ? `${r.process.signal} (${r.process.signalName ?? "?"})` : undefined],
    ["PID", r.process.pid],
    ["UID", r.process.uid],
    ["Executable", r.process.executablePath ?? r.process.executable],
    ["Command line", r.process.args],
    ["Signature", signatureOf(r) ?? r.crash?.noSignature],
    ["Crash site", r.crash?.site],
    ["Build ID", r.crash?.buildId],
    ["Sightings", r.sighting ? `${sightingText(r.sighting)} (when stored)` : undefined],
    [
      "Core size",
      r.corefile?.rawBytes !== undefined
        ? `${humanBytes(r.corefile.rawBytes)} (${r.corefile.rawBytes} bytes)`
        : undefined,
    ],
    [
      "Stored size",
      r.corefile?.storedBytes !== undefined
        ? `${humanBytes(r.corefile.storedBytes)} (${r.corefile.compression})`
        : undefined,
    ],
    ["Format", r.corefile ? `${r.corefile.format}${r.corefile.truncated ? ", truncated" : ""}` : undefined],
    ["SHA-256", r.corefile?.sha256],
    ["Node path", r.corefile?.path],
    ["Storage", r.storage ? `${r.storage.backend}${r.storage.bucket ? ` bucket ${r.storage.bucket}` : ""}` : undefined],
    ["Core key", r.storage?.key],
    ["Metadata key", core.key],
    ["Labels", r.pod.labels ? Object.entries(r.pod.labels).map(([k, v]) => `${k}=${v}`).join(", ") : undefined],
    ["CoreDog", r.coredogVersion],
  ];
  const present = lines.filter(([, value]) => value !== undefined && value !== "");
  const width = Math.max(...present.map(([label]) => label.length));
  const text = present.map(([label, value]) => `${label.padStart(width)}: ${value}`);
  for (const [i, problem] of (r.problems ?? []).entries()) {
    text.push(`${(i === 0 ? "Problems" : "").padStart(width)}${i === 0 ? ":" : " "} ${problem}`);
  }
  return text.join("\n") + "\n";
}
