/**
 * Sizes in the configuration: `0` (off), a byte count, a Kubernetes-style
 * quantity (`500Mi`, `4Gi`, `2G`) or a share of the file system (`10%`),
 * as systemd-coredump's `MaxUse=` and `KeepFree=` take them.
 *
 * @module
 */

/** A parsed size: off, absolute, or a share of the file system. */
export type SizeSpec =
  | { kind: "off" }
  | { kind: "bytes"; bytes: number }
  | { kind: "percent"; percent: number };

const UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Parses `text`; the error says what is accepted. */
export function parseSize(text: string): { ok: true; size: SizeSpec } | { ok: false; reason: string } {
  const value = text.trim();
  if (value === "0" || value === "") return { ok: true, size: { kind: "off" } };
  const percent = value.match(/^(\d+(?:\.\d+)?)%$/);
  if (percent) {
    const share = Number(percent[1]);
    if (share <= 0 || share > 100) return { ok: false, reason: `${value} is not a share between 0% and 100%` };
    return { ok: true, size: { kind: "percent", percent: share } };
  }
  const quantity = value.match(/^(\d+(?:\.\d+)?)([kMGT]i?|Ki)?$/);
  if (!quantity || !((quantity[2] ?? "") in UNITS)) {
    return { ok: false, reason: `"${value}" is not a size; write e.g. 0, 500Mi, 4Gi, 2G or 10%` };
  }
  return { ok: true, size: { kind: "bytes", bytes: Math.round(Number(quantity[1]) * UNITS[quantity[2] ?? ""]) } };
}

/** Bytes that `size` stands for on a file system of `totalBytes`; undefined when off. */
export function resolveSize(size: SizeSpec, totalBytes: number): number | undefined {
  if (size.kind === "off") return undefined;
  if (size.kind === "bytes") return size.bytes;
  return Math.floor(totalBytes * size.percent / 100);
}

/** How a size is shown in logs: `4294967296 bytes`, `10%`, `off`. */
export function describeSize(size: SizeSpec): string {
  if (size.kind === "off") return "off";
  if (size.kind === "percent") return `${size.percent}%`;
  return `${size.bytes} bytes`;
}
