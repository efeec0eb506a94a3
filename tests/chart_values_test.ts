/**
 * The chart's values without helm: values.yaml passes values.schema.json
 * (and the schema refuses what it should), the default CoreDog
 * configuration passes the real config parser, and every `.Values` path a
 * template uses exists while no value goes unused.
 */

import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { parseConfig } from "../src/core/config.ts";
import { readCredentials } from "../src/config_file.ts";
import { CHART_DIR, loadTemplates, loadValues, valueAt, valueLeaves, valuesPaths } from "./support/chart.ts";

const schema = JSON.parse(await Deno.readTextFile(`${CHART_DIR}/values.schema.json`));
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

function errorsOf(values: unknown): string[] {
  return validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
}

function withValue(values: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(values);
  const keys = path.split(".");
  let at = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return copy;
}

Deno.test("values.yaml passes values.schema.json", async () => {
  assert.deepEqual(errorsOf(await loadValues()), []);
});

Deno.test("the schema refuses wrong values with the path of each", async () => {
  const values = await loadValues();
  const wrong: [string, unknown, RegExp][] = [
    ["webhook.failurePolicy", "ignore", /\/webhook\/failurePolicy must be equal to one of the allowed values/],
    ["webhook.tls.mode", "manual", /\/webhook\/tls\/mode must be equal to one of the allowed values/],
    ["webhook.timeoutSeconds", 31, /\/webhook\/timeoutSeconds must be <= 30/],
    ["watcher.terminationGracePeriodSeconds", 30, /\/watcher\/terminationGracePeriodSeconds must be >= 60/],
    ["nodeSetup.corePattern", "|/usr/lib/systemd/systemd-coredump %P", /\/nodeSetup\/corePattern must match pattern/],
    ["nodeSetup.corePattern", "core.%e", /\/nodeSetup\/corePattern must match pattern/],
    ["nodeSetup.corePattern", `/corefile/${"x".repeat(130)}`, /must NOT have more than 127 characters/],
    ["nodeSetup.suidDumpable", 3, /\/nodeSetup\/suidDumpable must match a schema in anyOf/],
    ["existingSecret", "My_Secret", /\/existingSecret must match pattern/],
    ["config", { coredog: "" }, /\/config\/coredog must NOT have fewer than 1 characters/],
    ["watcher.logLevel", "verbose", /\/watcher\/logLevel must be equal to one of the allowed values/],
    ["metrics.serviceMonitor.interval", "30 seconds", /\/metrics\/serviceMonitor\/interval must match pattern/],
  ];
  for (const [path, value, expected] of wrong) {
    const errors = errorsOf(withValue(values, path, value));
    assert.ok(errors.some((e) => expected.test(e)), `${path}=${JSON.stringify(value)}: ${errors.join("; ")}`);
  }
  assert.ok(errorsOf({ ...values, webhok: {} }).some((e) => /must NOT have additional properties/.test(e)));
  assert.deepEqual(errorsOf(withValue(values, "nodeSetup.corePattern", "/corefile/core.%e.%p.%h.%t")), []);
});

Deno.test("the default config.coredog passes the real config parser, with credentials in it or from existingSecret", async () => {
  const values = await loadValues();
  const text = valueAt(values, "config.coredog") as string;
  const config = parseConfig(text, { source: "charts/values.yaml config.coredog" });
  assert.equal(config.corefileDir, "/data/coredog-system/dumps");
  assert.equal(config.storage.deleteLocalCorefile, true);
  assert.equal(config.channels.length, 1);

  // existingSecret as the chart passes it (env), with the two lines removed from the configuration as values.yaml says.
  const withoutKeys = text.split("\n").filter((l) => !/s3AccesskeyID|s3SecretAccessKey/.test(l)).join("\n");
  const env: Record<string, string> = { COREDOG_S3_ACCESS_KEY_ID: "AKID", COREDOG_S3_SECRET_ACCESS_KEY: "SECRET" };
  const credentials = await readCredentials((name) => env[name]);
  assert.doesNotThrow(() => parseConfig(withoutKeys, { source: "config.coredog", credentials }));
  // ... and both at once is the documented error.
  assert.throws(() => parseConfig(text, { source: "config.coredog", credentials }));
});

Deno.test("every .Values path a template uses exists in values.yaml, and every value is used", async () => {
  const values = await loadValues();
  const used = valuesPaths(await loadTemplates());
  const missing = [...used.keys()].filter((path) => valueAt(values, path) === undefined);
  assert.deepEqual(missing, [], "used by a template but not in values.yaml");
  const dead = valueLeaves(values).filter((leaf) =>
    ![...used.keys()].some((path) => leaf === path || leaf.startsWith(`${path}.`))
  );
  assert.deepEqual(dead, [], "in values.yaml but used by no template");
});

Deno.test("Chart.yaml names the chart coredog at the package version", async () => {
  const chart = parse(await Deno.readTextFile(`${CHART_DIR}/Chart.yaml`));
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(chart.apiVersion, "v2");
  assert.equal(chart.name, "coredog");
  assert.equal(chart.appVersion, denoJson.version);
  assert.match(chart.version, /^\d+\.\d+\.\d+$/);
});
