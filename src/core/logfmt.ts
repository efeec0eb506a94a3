/**
 * logfmt formatting (`level=info msg="capture a file:/x" key=value`), the
 * format of the seed's log lines.
 *
 * @module
 */

/** A value that can appear in a log line. */
export type LogValue = string | number | boolean | undefined | null;

/**
 * Formats fields as one logfmt line. Values with spaces, quotes, `=` or
 * control characters are quoted and escaped, so a hostile file name cannot
 * forge a second log line.
 */
export function formatLogfmt(fields: Record<string, LogValue>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    parts.push(`${key}=${formatValue(String(value))}`);
  }
  return parts.join(" ");
}

function formatValue(value: string): string {
  // deno-lint-ignore no-control-regex
  if (value !== "" && !/[\s"=\\\u0000-\u001f\u007f]/.test(value)) return value;
  // deno-lint-ignore no-control-regex
  const escaped = value.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => {
    if (c === "\\") return "\\\\";
    if (c === '"') return '\\"';
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
  return `"${escaped}"`;
}
