/**
 * Message templates: every variable, missing values, the default template.
 */

import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../src/core/config.ts";
import type { CrashRecord } from "../src/core/crash_record.ts";
import {
  DEFAULT_TEMPLATE,
  renderTemplate,
  TEMPLATE_VARIABLES,
  UNKNOWN,
  unknownVariables,
} from "../src/core/template.ts";
import { sampleRecord } from "./support/crash_records.ts";

/** What the pipeline knows about a core it could not attribute and could not parse. */
function bareRecord(): CrashRecord {
  return {
    id: "0".repeat(32),
    crashedAt: "2025-01-06T09:00:00.000Z",
    capturedAt: "2025-01-06T09:00:01.000Z",
    cluster: "",
    node: { name: "node-1", ip: "" },
    attribution: { kind: "unattributed", reason: "not under <namespace>/<pod>/" },
    pod: {},
    container: {},
    process: {},
    corefile: {
      path: "/data/coredog-system/dumps/core.1",
      filename: "core.1",
      format: "not-elf",
      truncated: false,
      rawBytes: 10,
      storedBytes: 20,
      sha256: "",
      compression: "zstd",
    },
    storage: { backend: "s3", key: "corefiles/_unattributed/core.1.core.zst", metadataKey: "x.json", url: "" },
    deletedLocal: true,
    problems: ["unattributed: not under <namespace>/<pod>/"],
    coredogVersion: "0.1.0",
  };
}

Deno.test("template: the seed's variables and the new facts all exist", () => {
  const seed = [
    "pod.namespace",
    "pod.name",
    "pod.uid",
    "pod.node",
    "host.ip",
    "corefile.path",
    "corefile.filename",
    "corefile.url",
  ];
  const facts = [
    "container.name",
    "container.image",
    "workload",
    "signal",
    "signal.number",
    "signal.name",
    "process.executable",
    "process.args",
    "corefile.size",
    "corefile.stored_size",
    "node.name",
    "time",
    "cluster.name",
  ];
  for (const name of [...seed, ...facts]) assert.ok(name in TEMPLATE_VARIABLES, name);
});

Deno.test("template: every variable renders from a full record, none as unknown", () => {
  const record = sampleRecord();
  for (const name of Object.keys(TEMPLATE_VARIABLES)) {
    const value = renderTemplate(`{${name}}`, record);
    assert.notEqual(value, "", name);
    assert.notEqual(value, UNKNOWN, name);
  }
  assert.equal(
    renderTemplate("{signal} {signal.number} {signal.name} {workload} {corefile.size} {corefile.stored_size}", record),
    "SIGSEGV (11) 11 SIGSEGV Deployment/web 1.2 GiB 50.0 MiB",
  );
  assert.equal(
    renderTemplate("{corefile.bytes} {corefile.stored_bytes} {problems}", record),
    "1288490188 52428800 none",
  );
});

Deno.test("template: a missing value renders as unknown, never empty; the seed's [/] cannot happen", () => {
  const record = bareRecord();
  for (const name of Object.keys(TEMPLATE_VARIABLES)) assert.notEqual(renderTemplate(`{${name}}`, record), "", name);
  assert.equal(
    renderTemplate("[{pod.namespace}/{pod.name}] core: {corefile.filename}", record),
    "[unknown/unknown] core: core.1",
  );
  const message = renderTemplate(DEFAULT_TEMPLATE, record);
  assert.match(message, /^\[unknown\/unknown\] core: core\.1$/m);
  assert.match(message, /^signal: unknown$/m);
  assert.match(message, /^download: unknown$/m);
  assert.ok(!message.includes("[/]") && !/: $/m.test(message), message);
  assert.equal(renderTemplate("{problems}", record), "unattributed: not under <namespace>/<pod>/");
});

Deno.test("template: the default is the seed's first line plus every fact and the link", () => {
  const lines = renderTemplate(DEFAULT_TEMPLATE, sampleRecord()).split("\n");
  assert.deepEqual(lines, [
    "[team-a/web-7d9f8c6b5-x2x4q] core: core.server.42",
    "container: app (registry.example.com/web:1.4.2)",
    "workload: Deployment/web",
    "signal: SIGSEGV (11)",
    "crash: server+0x1139, new crash",
    "signature: 76b3a2e2b393fda7, frames: server+0x1139 server+0x1148 server+0x116e",
    "process: server pid 42: /app/server --port 8080",
    "node: node-1 (10.0.0.1), cluster: prod-sh",
    "size: 1.2 GiB raw, 50.0 MiB stored",
    "time: 2025-01-06T09:00:00.000Z",
    `download: ${sampleRecord().storage.url}`,
  ]);
});

Deno.test("template: unknown variables are startup errors naming them and where they are", () => {
  assert.deepEqual(unknownVariables("{pod.name} {pod.nmae} {signal.nam} {pod.nmae}"), ["pod.nmae", "signal.nam"]);
  const error = (() => {
    try {
      parseConfig(
        'StorageConfig:\n  S3Bucket: b\nNoticeChannel:\n  - chan: console\n  - chan: slack\n    webhookurl: https://hooks.slack.com/services/x\n    template: "{pod.name} {container.img}"\n',
      );
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.problems, [
    "NoticeChannel[1].template uses unknown variable {container.img}; see the README's list of template variables",
  ]);
});
