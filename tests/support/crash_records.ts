/**
 * Crash records for notification tests, shaped like the ones the pipeline
 * produces.
 */

import type { CrashRecord } from "../../src/core/crash_record.ts";

/** Overrides of {@linkcode sampleRecord}, by part. */
export interface RecordOverrides {
  id?: string;
  pod?: Partial<CrashRecord["pod"]>;
  container?: Partial<CrashRecord["container"]>;
  process?: Partial<CrashRecord["process"]>;
  corefile?: Partial<CrashRecord["corefile"]>;
  storage?: Partial<CrashRecord["storage"]>;
  crashedAt?: string;
  cluster?: string;
}

/** A record of a SIGSEGV in `team-a/web-7d9f8c6b5-x2x4q`, container `app`, with a presigned link. */
export function sampleRecord(overrides: RecordOverrides = {}): CrashRecord {
  const id = overrides.id ?? "0123456789abcdef0123456789abcdef";
  const key = `corefiles/team-a/web-7d9f8c6b5-x2x4q/app/20250106T090000.000Z-server-42-${id.slice(0, 6)}.core.zst`;
  return {
    id,
    crashedAt: overrides.crashedAt ?? "2025-01-06T09:00:00.000Z",
    capturedAt: "2025-01-06T09:00:02.000Z",
    cluster: overrides.cluster ?? "prod-sh",
    node: { name: "node-1", ip: "10.0.0.1" },
    attribution: { kind: "container" },
    pod: {
      namespace: "team-a",
      name: "web-7d9f8c6b5-x2x4q",
      uid: "6f1c2a4e-1111-2222-3333-444455556666",
      node: "node-1",
      ip: "10.244.1.7",
      workload: { kind: "Deployment", name: "web" },
      ...overrides.pod,
    },
    container: { name: "app", image: "registry.example.com/web:1.4.2", restartCount: 3, ...overrides.container },
    process: {
      signal: 11,
      signalName: "SIGSEGV",
      pid: 42,
      executable: "server",
      args: "/app/server --port 8080",
      executablePath: "/app/server",
      ...overrides.process,
    },
    crash: {
      signature: "76b3a2e2b393fda7",
      site: "server+0x1139",
      unwind: "frame-pointer",
      frames: [
        { module: "server", offset: 0x1139, how: "pc" },
        { module: "server", offset: 0x1148, how: "scanned" },
        { module: "server", offset: 0x116e, how: "frame-pointer" },
      ],
      buildId: "cf3607da5fa9e98952abb0fd35a5aeb42646c4d2",
      modules: [{ name: "server", path: "/app/server", buildId: "cf3607da5fa9e98952abb0fd35a5aeb42646c4d2" }],
    },
    sighting: { first: true, count: 1, pods: 1, nodes: 1, since: "2025-01-06T09:00:02.000Z" },
    corefile: {
      path: "/data/coredog-system/dumps/team-a/web-7d9f8c6b5-x2x4q/app/core.server.42",
      filename: "core.server.42",
      format: "elf-core",
      truncated: false,
      rawBytes: 1288490188,
      storedBytes: 52428800,
      sha256: "ab".repeat(32),
      compression: "zstd",
      ...overrides.corefile,
    },
    storage: {
      backend: "s3",
      bucket: "cores",
      key,
      metadataKey: key.replace(".core.zst", ".json"),
      url: `https://cores.s3.example.com/${key}?X-Amz-Signature=${id}&X-Amz-Expires=3600`,
      urlExpiresAt: "2025-01-06T10:00:02.000Z",
      ...overrides.storage,
    },
    deletedLocal: true,
    problems: [],
    coredogVersion: "0.1.0",
  };
}
