/**
 * The READMEs and docs/ hold together: every relative link points at a file
 * that exists and, when it names an anchor, at a heading of that file; each
 * reference document has its Chinese twin; each README links every reference
 * document in its own language; and the READMEs stay short enough to read.
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The reference documents the READMEs link, each with a `.zh-CN.md` twin. */
const REFERENCE_DOCS = [
  "docs/configuration.md",
  "docs/webhook.md",
  "docs/architecture.md",
  "docs/notifications.md",
  "docs/reliability.md",
  "docs/performance.md",
  "docs/troubleshooting.md",
];

/** The most lines a README may have (about 450, the seed's length): the quick path must stay quick. */
const README_MAX_LINES = 460;

/** Every Markdown document whose links are checked, relative to the repository root. */
async function documents(): Promise<string[]> {
  const found = ["README.md", "README.zh-CN.md"];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) found.push(`docs/${entry.name}`);
  }
  return found.sort();
}

/** The text outside fenced code blocks and inline code spans, where links are links. */
function proseOf(markdown: string): string {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const opener = line.match(/^\s*(`{3,}|~{3,})/)?.[1];
    if (fence) {
      if (opener && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      lines.push("");
      continue;
    }
    if (opener) {
      fence = opener;
      lines.push("");
      continue;
    }
    lines.push(line.replace(/(`+)[\s\S]*?\1/g, ""));
  }
  return lines.join("\n");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slugOf(heading: string): string {
  return heading
    .replace(/`/g, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a document's headings, with GitHub's `-1`, `-2` suffixes for repeats. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseWithHeadings(markdown)) {
    const heading = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/)?.[1];
    if (heading === undefined) continue;
    const slug = slugOf(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Lines outside fenced code blocks (inline code kept: it belongs to the heading's text). */
function proseWithHeadings(markdown: string): string[] {
  const lines: string[] = [];
  let inFence = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (!inFence) lines.push(line);
  }
  return lines;
}

/** The targets of inline links and images, `[text](target)` and `![alt](target)`. */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const match of proseOf(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    targets.push(match[1]);
  }
  return targets;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(join(ROOT, path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(join(ROOT, path));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("every relative link in the READMEs and docs/ resolves to a file, and every anchor to a heading", async () => {
  const broken: string[] = [];
  let checked = 0;
  for (const document of await documents()) {
    const text = (await readText(document))!;
    for (const target of linkTargets(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not files
      checked++;
      const [rawPath, anchor] = target.split("#", 2);
      const path = rawPath === "" ? document : normalize(join(dirname(document), decodeURI(rawPath)));
      if (relative(".", path).startsWith("..")) {
        broken.push(`${document}: ${target} leaves the repository`);
        continue;
      }
      if (!(await exists(path))) {
        broken.push(`${document}: ${target} (no file ${path})`);
        continue;
      }
      if (anchor === undefined) continue;
      const linked = await readText(path);
      if (linked === undefined || !path.endsWith(".md")) {
        broken.push(`${document}: ${target} (an anchor into ${path}, which is not Markdown)`);
      } else if (!anchorsOf(linked).has(decodeURIComponent(anchor))) {
        broken.push(`${document}: ${target} (no heading #${anchor} in ${path})`);
      }
    }
  }
  assert.ok(checked > 50, `only ${checked} relative links found: is the link pattern still right?`);
  assert.deepEqual(broken, []);
});

Deno.test("each reference document has a Chinese twin with the same sections' worth of headings", async () => {
  for (const english of REFERENCE_DOCS) {
    const chinese = english.replace(/\.md$/, ".zh-CN.md");
    const en = await readText(english);
    const zh = await readText(chinese);
    assert.ok(en !== undefined, `${english} is missing`);
    assert.ok(zh !== undefined, `${chinese}, the twin of ${english}, is missing`);
    const level2 = (text: string) => proseWithHeadings(text).filter((line) => /^## /.test(line)).length;
    assert.equal(level2(zh), level2(en), `${chinese} and ${english} have different numbers of sections`);
  }
});

Deno.test("each README links every reference document in its own language, and stays short", async () => {
  for (const [readme, suffix] of [["README.md", ".md"], ["README.zh-CN.md", ".zh-CN.md"]]) {
    const text = (await readText(readme))!;
    const linked = new Set(linkTargets(text).map((target) => target.split("#")[0]));
    for (const english of REFERENCE_DOCS) {
      const wanted = english.replace(/\.md$/, suffix);
      assert.ok(linked.has(wanted), `${readme} does not link ${wanted}`);
    }
    const lines = text.split("\n").length;
    assert.ok(lines <= README_MAX_LINES, `${readme} has ${lines} lines; move detail into docs/`);
  }
});

Deno.test("the link checker sees links, skips code, and makes GitHub's anchors", () => {
  const sample = [
    "# CoreDog 🐶",
    "## Where the seed design was wrong, and what CoreDog does instead",
    "## 种子设计的问题，以及 CoreDog 的做法",
    "## Why `subPathExpr` and not a hostPath per pod",
    "## Scenario",
    "## Scenario",
    "See [the key](docs/configuration.md#every-key) and ![chart](a.svg).",
    "`[not](a-link.md)`",
    "```yaml",
    'template: "[download]({corefile.url})"',
    "```",
  ].join("\n");
  assert.deepEqual(linkTargets(sample), ["docs/configuration.md#every-key", "a.svg"]);
  assert.deepEqual([...anchorsOf(sample)], [
    "coredog-",
    "where-the-seed-design-was-wrong-and-what-coredog-does-instead",
    "种子设计的问题以及-coredog-的做法",
    "why-subpathexpr-and-not-a-hostpath-per-pod",
    "scenario",
    "scenario-1",
  ]);
});
