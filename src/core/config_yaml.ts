/**
 * The configuration text as YAML: parsed, or one problem that names the
 * line, the column and the text there.
 *
 * @module
 */

import { parse as parseYaml, YAMLError } from "yaml";

/** The parsed value, or the problem with the text. */
export type YamlResult = { ok: true; value: unknown } | { ok: false; problem: string };

/**
 * Parses `text` as YAML. A syntax error becomes one line such as
 * `not valid YAML at line 6, column 17 ("QuietSeconds: 2: 3"): Nested
 * mappings are not allowed in compact mappings`.
 */
export function parseConfigYaml(text: string): YamlResult {
  try {
    return { ok: true, value: parseYaml(text) };
  } catch (error) {
    // Only the parser's own errors are about the text (a missing permission is not).
    if (!(error instanceof YAMLError)) throw error;
    return { ok: false, problem: describeYamlError(error, text) };
  }
}

function describeYamlError(error: YAMLError, text: string): string {
  // The parser's first line ends with " at line N, column M:" and an excerpt follows on the next lines.
  const reason = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "").replace(/:$/, "");
  const position = error.linePos?.[0];
  if (!position) return `not valid YAML: ${reason}`;
  const lines = text.split(/\r?\n/);
  const line = lines[position.line - 1] ?? "";
  const atEnd = lines.slice(position.line - 1).every((rest) => rest.trim() === "");
  const excerpt = line.trim() !== "" ? JSON.stringify(line.trim()) : atEnd ? "the end of the text" : "an empty line";
  return `not valid YAML at line ${position.line}, column ${position.col} (${excerpt}): ${reason}`;
}
