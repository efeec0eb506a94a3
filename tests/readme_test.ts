/**
 * The README's promises about the project itself: its two first commands,
 * the CI script that runs the same test command, and a documented default
 * for every configuration key.
 */

import assert from "node:assert/strict";
import { CHANNEL_COMMON_KEYS, CHANNEL_EXTRA_KEYS, CONFIG_SECTIONS } from "../src/core/config_schema.ts";
import { formatDefault } from "../src/dev/config_reference.ts";
import { VERSION } from "../src/version.ts";

const ROOT = new URL("../", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", ROOT));
const pinned = (await Deno.readTextFile(new URL(".deno-version", ROOT))).trim();
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));

Deno.test("the README starts with the two commands: run locally, run the tests, on the pinned Deno", () => {
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].trim());
  assert.equal(blocks[0], `npx deno@${pinned} task dev`);
  assert.equal(blocks[1], `npx deno@${pinned} task test`);
  assert.ok(denoJson.tasks.dev && denoJson.tasks.test);
});

Deno.test(".ci/run runs the README's test command and ends with the pass/fail line", async () => {
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  assert.match(ci, /npx --yes "deno@\$DENO_VERSION" task test/);
  assert.match(ci, /DENO_VERSION="\$\(cat \.deno-version\)"/);
  assert.match(ci, /echo "\$passed passed, \$failed failed"/);
});

Deno.test("every place that names the Deno version names the pinned one", async () => {
  const places = ["README.md", "src/dev/main.ts"];
  for (const place of places) {
    const text = await Deno.readTextFile(new URL(place, ROOT));
    for (const match of text.matchAll(/deno@(\d+\.\d+\.\d+)/g)) assert.equal(match[1], pinned, place);
  }
});

Deno.test("every configuration key is documented in the README with its default", () => {
  const rows = readme.split("\n").filter((line) => line.startsWith("| `"));
  const missing: string[] = [];
  function check(path: string, spec: Parameters<typeof formatDefault>[0]): void {
    const row = rows.find((line) => line.startsWith(`| \`${path}\``));
    if (!row || !row.includes(formatDefault(spec))) missing.push(`${path} (default ${formatDefault(spec)})`);
  }
  for (const section of CONFIG_SECTIONS) {
    for (const [key, spec] of Object.entries(section.keys)) check(section.name ? `${section.name}.${key}` : key, spec);
  }
  for (const [key, spec] of Object.entries(CHANNEL_COMMON_KEYS)) check(key, spec);
  for (const keys of Object.values(CHANNEL_EXTRA_KEYS)) {
    for (const [key, spec] of Object.entries(keys)) check(key, spec);
  }
  assert.deepEqual(missing, [], "run `deno task config-reference` and update the README");
});

Deno.test("the version in metadata objects is the package version", () => {
  assert.equal(VERSION, denoJson.version);
});
