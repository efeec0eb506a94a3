/**
 * Reads the Helm chart in charts/ without helm: its values, its templates,
 * the `.Values` paths they use, and each template's static YAML (template
 * actions taken out, the first branch of each if/else kept).
 */

import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";

/** The chart's directory. */
export const CHART_DIR = new URL("../../charts/", import.meta.url).pathname;

/** What stands for an inline template action in the static YAML. */
export const TEMPLATED = "TEMPLATED";

/** The chart's values.yaml, parsed. */
export async function loadValues(): Promise<Record<string, unknown>> {
  return parse(await Deno.readTextFile(join(CHART_DIR, "values.yaml")));
}

/** Template files by name (templates/*.yaml, _helpers.tpl, NOTES.txt). */
export async function loadTemplates(): Promise<Map<string, string>> {
  const templates = new Map<string, string>();
  for await (const entry of Deno.readDir(join(CHART_DIR, "templates"))) {
    if (entry.isFile) templates.set(entry.name, await Deno.readTextFile(join(CHART_DIR, "templates", entry.name)));
  }
  return templates;
}

/** Every `.Values.a.b` path used (as `a.b`), with the files using it. */
export function valuesPaths(templates: Map<string, string>): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  for (const [name, text] of templates) {
    for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      const path = match[1].slice(1);
      paths.set(path, [...new Set([...(paths.get(path) ?? []), name])]);
    }
  }
  return paths;
}

/** The leaves of `values` as dotted paths: scalars, lists and empty maps. */
export function valueLeaves(values: unknown, prefix = ""): string[] {
  if (typeof values !== "object" || values === null || Array.isArray(values) || Object.keys(values).length === 0) {
    return prefix ? [prefix] : [];
  }
  return Object.entries(values).flatMap(([key, value]) => valueLeaves(value, prefix ? `${prefix}.${key}` : key));
}

/** The value at dotted `path`, or undefined. */
export function valueAt(values: unknown, path: string): unknown {
  let current = values;
  for (const key of path.split(".")) {
    if (typeof current !== "object" || current === null || !(key in current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * A template with its actions taken out: a line holding only an action
 * goes, an inline action becomes {@linkcode TEMPLATED}, and of each
 * if/else only the first branch stays (so both branches cannot clash).
 */
export function staticYaml(template: string): string {
  const out: string[] = [];
  const blocks: { skipping: boolean }[] = [];
  let inComment = false;
  for (const line of template.split("\n")) {
    const trimmed = line.trim();
    if (inComment) {
      if (trimmed.includes("*/}}")) inComment = false;
      continue;
    }
    if (trimmed.startsWith("{{/*") || trimmed.startsWith("{{- /*")) {
      if (!trimmed.includes("*/")) inComment = true;
      continue;
    }
    const only = trimmed.match(/^\{\{-?\s*([\s\S]*?)\s*-?\}\}$/);
    if (only && !only[1].includes("}}")) {
      const action = only[1];
      if (/^(if|with|range|define|block)\b/.test(action)) blocks.push({ skipping: false });
      else if (/^else\b/.test(action)) blocks[blocks.length - 1].skipping = true;
      else if (action === "end") blocks.pop();
      continue;
    }
    if (blocks.some((b) => b.skipping)) continue;
    out.push(line.replace(/\{\{-?[\s\S]*?-?\}\}/g, TEMPLATED));
  }
  return out.join("\n");
}

/** The documents of a template's static YAML; throws with the parser's errors. */
export function staticDocuments(name: string, template: string): Record<string, unknown>[] {
  const documents = parseAllDocuments(staticYaml(template), { uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [documents];
  const errors = list.flatMap((d) => d.errors.map((e) => `${name}: ${e.message}`));
  if (errors.length > 0) throw new Error(errors.join("\n"));
  return list.map((d) => d.toJS()).filter((d) => d !== null) as Record<string, unknown>[];
}

/** Every static document of every YAML template. */
export async function allStaticDocuments(): Promise<{ file: string; doc: Record<string, unknown> }[]> {
  const result: { file: string; doc: Record<string, unknown> }[] = [];
  for (const [name, text] of await loadTemplates()) {
    if (!name.endsWith(".yaml")) continue;
    for (const doc of staticDocuments(name, text)) result.push({ file: name, doc });
  }
  return result;
}

/** The static document of `kind` named `name` (loosely typed: tests read deep into it). */
// deno-lint-ignore no-explicit-any
export async function staticObject(kind: string, name: string): Promise<Record<string, any>> {
  const found = (await allStaticDocuments()).find(({ doc }) =>
    doc.kind === kind && (doc.metadata as Record<string, unknown>)?.name === name
  );
  if (!found) throw new Error(`no ${kind} ${name} in the chart`);
  return found.doc;
}
