/**
 * The command-line flags of the two roles (`coredog-watcher`,
 * `coredog-webhook`) and `deno task dev`, from a table: `--flag value` or
 * `--flag=value`, else the flag's environment variable, else its default;
 * `--help` (or `-h`) asks for {@linkcode flagsUsage}. A mistake throws
 * {@linkcode FlagError}, which each entrypoint turns into exit code 2.
 * (The `coredog` command's verbs take positionals and switches: src/cli/args.ts.)
 *
 * @module
 */

/** What a flag's value must be. */
export type FlagKind = "string" | "port" | "seconds" | "days";

/** One flag: its name, variable, default and meaning (the meaning is its `--help` line). */
export interface FlagSpec<K extends string = string> {
  /** With the dashes, e.g. `--config`. */
  flag: string;
  /** The variable read when the flag is not given; an empty value counts as unset. */
  env: string;
  /** Where the value goes in the parsed result. */
  key: K;
  kind: FlagKind;
  /** The only values a `string` flag may take. */
  oneOf?: readonly string[];
  default: string | number;
  doc: string;
}

/** Parsed flags: each spec's key with its value, and whether `--help` was asked. */
export type ParsedFlags<K extends string> = Record<K, string | number> & { help: boolean };

/** A command line or variable that cannot be what the user meant; exit code 2. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/** Options of {@linkcode parseFlags}. */
export interface ParseFlagsOptions {
  /** Reads an environment variable, e.g. `(name) => Deno.env.get(name)`. */
  env: (name: string) => string | undefined;
}

/**
 * Reads `specs` from `args`, then from the environment. A flag wins over its
 * variable, which wins over the default; the last of a repeated flag wins.
 *
 * @throws {FlagError} for an unknown argument, a flag without a value, or a
 * value of the wrong kind, naming the flag or the variable it came from.
 */
export function parseFlags<K extends string>(
  args: readonly string[],
  specs: readonly FlagSpec<K>[],
  options: ParseFlagsOptions,
): ParsedFlags<K> {
  const given = new Map<string, string>();
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq !== -1 ? arg.slice(0, eq) : arg;
    if (!specs.some((spec) => spec.flag === name)) throw new FlagError(`unknown argument ${arg}; see --help`);
    let value = name === arg ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      const next = args[i + 1];
      // `--config --port 1` forgot the config's value: do not take the next flag as one.
      if (next !== undefined && !next.startsWith("--")) value = args[++i];
    }
    if (value === undefined || value === "") {
      throw new FlagError(`${name} needs a value: ${name} <${metavar(name, specs)}>`);
    }
    given.set(name, value);
  }
  const result: Record<string, string | number | boolean> = { help };
  for (const spec of specs) {
    const fromFlag = given.get(spec.flag);
    const raw = fromFlag ?? (options.env(spec.env) || undefined);
    result[spec.key] = raw === undefined
      ? spec.default
      : convert(raw, spec, fromFlag !== undefined ? spec.flag : spec.env);
  }
  return result as ParsedFlags<K>;
}

/** The `--help` text of `command`: each flag with its meaning, variable and default. */
export function flagsUsage(command: string, specs: readonly FlagSpec[]): string {
  const heads = specs.map((spec) => `${spec.flag} <${metavar(spec.flag, specs)}>`);
  const width = Math.max(...heads.map((head) => head.length)) + 2;
  const lines = specs.map((spec, i) =>
    `  ${heads[i].padEnd(width)}${spec.doc}\n  ${"".padEnd(width)}env ${spec.env}, default ${
      spec.default === "" ? '""' : spec.default
    }`
  );
  return [`Usage: ${command} [flags]`, "", ...lines, `  ${"--help".padEnd(width)}print this and exit`, ""].join("\n");
}

function metavar(flag: string, specs: readonly FlagSpec[]): string {
  const spec = specs.find((s) => s.flag === flag)!;
  if (spec.oneOf) return spec.oneOf.join("|");
  return spec.kind === "string" ? "value" : spec.kind;
}

function convert(raw: string, spec: FlagSpec, source: string): string | number {
  if (spec.kind === "string") {
    if (spec.oneOf && !spec.oneOf.includes(raw)) {
      throw new FlagError(`${source} must be one of ${spec.oneOf.join(", ")}, got "${raw}"`);
    }
    return raw;
  }
  const value = Number(raw);
  if (spec.kind === "port" && (!Number.isInteger(value) || value < 0 || value > 65535)) {
    throw new FlagError(`${source} must be a port number from 0 to 65535, got "${raw}"`);
  }
  if (spec.kind === "seconds" && (!Number.isFinite(value) || value < 0)) {
    throw new FlagError(`${source} must be a number of seconds, got "${raw}"`);
  }
  if (spec.kind === "days" && (!Number.isInteger(value) || value < 1)) {
    throw new FlagError(`${source} must be a whole number of days, at least 1, got "${raw}"`);
  }
  return value;
}
