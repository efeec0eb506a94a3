/**
 * Prints the configuration reference (every key, its default and meaning)
 * as Markdown tables, from the same schema the parser uses, for the "Every key"
 * section of docs/configuration.md and docs/configuration.zh-CN.md.
 *
 * Usage: `deno task config-reference`
 *
 * @module
 */

import {
  CHANNEL_COMMON_KEYS,
  CHANNEL_EXTRA_KEYS,
  CONFIG_SECTIONS,
  type KeySpec,
  type SectionSpec,
} from "../core/config_schema.ts";

/** How a default value is written in docs/configuration.md. */
export function formatDefault(spec: KeySpec): string {
  const value = spec.default;
  if (typeof value === "string") return value === "" ? '`""`' : `\`${value}\``;
  if (Array.isArray(value)) return value.length === 0 ? "`[]`" : `\`[${value.join(", ")}]\``;
  if (typeof value === "object") return "`{}`";
  return `\`${value}\``;
}

/** The whole reference as Markdown. */
function configReferenceMarkdown(): string {
  const parts: string[] = [];
  for (const section of CONFIG_SECTIONS) {
    parts.push(`### ${section.name ? `\`${section.name}\`` : "Top level"}`, "", section.doc, "");
    parts.push(...table(section.keys, section.name ? `${section.name}.` : ""), "");
  }
  parts.push("### `NoticeChannel[]` entries", "", "Keys of every channel:", "", ...table(CHANNEL_COMMON_KEYS, ""), "");
  for (const [chan, keys] of Object.entries(CHANNEL_EXTRA_KEYS)) {
    if (Object.keys(keys).length === 0) continue;
    parts.push(`Extra keys of \`${chan}\`:`, "", ...table(keys, ""), "");
  }
  return parts.join("\n");
}

function table(keys: SectionSpec, prefix: string): string[] {
  const rows = ["| Key | Default | Meaning |", "| --- | --- | --- |"];
  for (const [key, spec] of Object.entries(keys)) {
    rows.push(`| \`${prefix}${key}\` | ${formatDefault(spec)} | ${spec.doc.replaceAll("|", "\\|")} |`);
  }
  return rows;
}

if (import.meta.main) console.log(configReferenceMarkdown());
