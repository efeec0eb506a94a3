/**
 * Logging as logfmt lines on stdout, the format of the seed's log lines
 * (`level=info msg="capture a file:/corefile/core.bash.1"`). `msg` follows
 * `level` directly so that the seed's documented lines match a grep.
 *
 * @module
 */

import { formatLogfmt, type LogValue } from "./core/logfmt.ts";

/** Log levels, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Extra fields of a log line. */
export type LogFields = Record<string, LogValue>;

/** A logger bound to a component. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written; `COREDOG_LOG_LEVEL` or `info` by default. */
  level?: LogLevel;
  /** Where lines go; stdout by default. Tests capture lines here. */
  write?: (line: string) => void;
  /** Fields added to every line, e.g. `{ component: "watcher" }`. */
  fields?: LogFields;
}

/** Creates a logger that writes one logfmt line per call. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? levelFromEnv();
  const write = options.write ?? ((line: string) => console.log(line));
  const base = options.fields ?? {};
  function emit(lineLevel: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[lineLevel] < RANK[level]) return;
    write(formatLogfmt({ time: new Date().toISOString(), level: lineLevel, msg, ...base, ...fields }));
  }
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}

function levelFromEnv(): LogLevel {
  let value: string | undefined;
  try {
    value = Deno.env.get("COREDOG_LOG_LEVEL");
  } catch {
    // Without --allow-env the default applies.
  }
  return value && value in RANK ? value as LogLevel : "info";
}
