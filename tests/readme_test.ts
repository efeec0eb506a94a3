/**
 * The README's promises about the project itself: its two first commands,
 * the CI script that runs the same test command, the pinned Deno version
 * wherever a document names one, and a documented default for every
 * configuration key in docs/configuration.md and its Chinese twin.
 */

import assert from "node:assert/strict";
import { CHANNEL_COMMON_KEYS, CHANNEL_EXTRA_KEYS, CONFIG_SECTIONS } from "../src/core/config_schema.ts";
import { formatDefault } from "../src/dev/config_reference.ts";
import { DEFAULT_TEMPLATE, TEMPLATE_VARIABLES } from "../src/core/template.ts";
import { VERSION } from "../src/version.ts";

const ROOT = new URL("../", import.meta.url);
const CONFIGURATION_DOCS = ["docs/configuration.md", "docs/configuration.zh-CN.md"];
const pinned = (await Deno.readTextFile(new URL(".deno-version", ROOT))).trim();
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));

Deno.test("both READMEs start with the two commands: run locally, run the tests, on the pinned Deno", async () => {
  for (const document of ["README.md", "README.zh-CN.md"]) {
    const text = await Deno.readTextFile(new URL(document, ROOT));
    const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].trim());
    assert.equal(blocks[0], `npx deno@${pinned} task dev`, document);
    assert.equal(blocks[1], `npx deno@${pinned} task test`, document);
  }
  assert.ok(denoJson.tasks.dev && denoJson.tasks.test);
});

Deno.test(".ci/run runs the README's test command and ends with the pass/fail line", async () => {
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  assert.match(ci, /npx --yes "deno@\$DENO_VERSION" task test/);
  assert.match(ci, /DENO_VERSION="\$\(cat \.deno-version\)"/);
  assert.match(ci, /echo "\$passed passed, \$failed failed"/);
});

Deno.test("every place that names the Deno version names the pinned one", async () => {
  const places = ["README.md", "README.zh-CN.md", "src/dev/main.ts"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.name.endsWith(".md")) places.push(`docs/${entry.name}`);
  }
  for (const place of places) {
    const text = await Deno.readTextFile(new URL(place, ROOT));
    for (const match of text.matchAll(/deno@(\d+\.\d+\.\d+)/g)) assert.equal(match[1], pinned, place);
  }
});

Deno.test("every configuration key is documented in docs/configuration.md and its twin with its default", async () => {
  const missing: string[] = [];
  const documents = await Promise.all(CONFIGURATION_DOCS.map((d) => Deno.readTextFile(new URL(d, ROOT))));
  function check(path: string, spec: Parameters<typeof formatDefault>[0]): void {
    documents.forEach((text, i) => {
      const row = text.split("\n").find((line) => line.startsWith(`| \`${path}\``));
      if (!row || !row.includes(formatDefault(spec))) {
        missing.push(`${CONFIGURATION_DOCS[i]}: ${path} (default ${formatDefault(spec)})`);
      }
    });
  }
  for (const section of CONFIG_SECTIONS) {
    for (const [key, spec] of Object.entries(section.keys)) check(section.name ? `${section.name}.${key}` : key, spec);
  }
  for (const [key, spec] of Object.entries(CHANNEL_COMMON_KEYS)) check(key, spec);
  for (const keys of Object.values(CHANNEL_EXTRA_KEYS)) {
    for (const [key, spec] of Object.entries(keys)) check(key, spec);
  }
  assert.deepEqual(missing, [], "run `deno task config-reference` and paste it into docs/configuration*.md");
});

Deno.test("the version in metadata objects is the package version", () => {
  assert.equal(VERSION, denoJson.version);
});

Deno.test("every template variable is in both READMEs' lists and in docs/notifications*.md with its meaning", async () => {
  const missing: string[] = [];
  for (const readme of ["README.md", "README.zh-CN.md"]) {
    const text = await Deno.readTextFile(new URL(readme, ROOT));
    for (const name of Object.keys(TEMPLATE_VARIABLES)) {
      if (!text.includes(`\`{${name}}\``)) missing.push(`${readme}: {${name}}`);
    }
  }
  for (const document of ["docs/notifications.md", "docs/notifications.zh-CN.md"]) {
    const rows = (await Deno.readTextFile(new URL(document, ROOT))).split("\n");
    for (const [name, { doc }] of Object.entries(TEMPLATE_VARIABLES)) {
      const row = rows.find((line) => line.startsWith(`| \`{${name}}\``));
      // Meanings written by hand may differ from the code's wording, but a row must exist.
      if (!row) missing.push(`${document}: {${name}} (${doc})`);
    }
  }
  assert.deepEqual(missing, [], "the template variables are in src/core/template.ts");
});

Deno.test("docs/notifications*.md show the built-in template as CoreDog renders it", async () => {
  for (const document of ["docs/notifications.md", "docs/notifications.zh-CN.md"]) {
    const text = await Deno.readTextFile(new URL(document, ROOT));
    assert.ok(text.includes("```text\n" + DEFAULT_TEMPLATE + "\n```"), `${document}: copy DEFAULT_TEMPLATE`);
  }
});
