/**
 * Command-line parsing for `coredog`: flags with values (`--since 2h`,
 * `--since=2h`, `-n team-a`), switches (`--pod`-less `--delete`), and
 * positional arguments. A mistake throws {@linkcode UsageError}, which the
 * entrypoint turns into exit code 2 and the verb's usage line.
 *
 * @module
 */

/** One flag a verb accepts. */
export interface FlagSpec {
  /** One-letter alias, e.g. `n` for `-n`. */
  short?: string;
  /** `value`: takes a value; `switch`: takes none; `list`: a value, repeatable. */
  kind: "value" | "switch" | "list";
  /** Shown in errors and help, e.g. `NAMESPACE`. */
  metavar?: string;
}

/** The flags of a verb, by long name (without `--`). */
export type FlagSpecs = Record<string, FlagSpec>;

/** What was parsed. */
export interface ParsedArgs {
  /** Values of `value` flags, `"true"` for switches; absent when not given. */
  flags: Record<string, string>;
  /** Values of `list` flags, in order. */
  lists: Record<string, string[]>;
  positionals: string[];
}

/** A command line that cannot be what the user meant; exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Parses `args` against `specs`. */
export function parseArgs(args: string[], specs: FlagSpecs): ParsedArgs {
  const result: ParsedArgs = { flags: {}, lists: {}, positionals: [] };
  const byShort = new Map(Object.entries(specs).filter(([, s]) => s.short).map(([name, s]) => [s.short!, name]));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      result.positionals.push(...args.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    let shown = arg;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      shown = `--${name}`;
    } else if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
      const letter = arg.slice(1, 2);
      name = byShort.get(letter);
      inline = arg.length > 2 ? arg.slice(2).replace(/^=/, "") : undefined;
      shown = `-${letter}`;
      if (!name) throw new UsageError(`unknown flag ${shown}${suggestion(letter, Object.keys(specs))}`);
    } else {
      result.positionals.push(arg);
      continue;
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag ${shown}${suggestion(name, Object.keys(specs))}`);
    if (spec.kind === "switch") {
      if (inline !== undefined) throw new UsageError(`${shown} takes no value (got "${inline}")`);
      result.flags[name] = "true";
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length || (args[i + 1].startsWith("-") && args[i + 1] !== "-")) {
        throw new UsageError(`${shown} needs a value: ${shown} ${spec.metavar ?? "VALUE"}`);
      }
      value = args[++i];
    }
    if (spec.kind === "list") {
      (result.lists[name] ??= []).push(value);
    } else {
      if (name in result.flags) throw new UsageError(`${shown} is given twice; give it once`);
      result.flags[name] = value;
    }
  }
  return result;
}

/** Throws unless exactly `count` positional arguments were given. */
export function expectPositionals(parsed: ParsedArgs, names: string[]): string[] {
  const given = parsed.positionals;
  if (given.length < names.length) throw new UsageError(`missing ${names.slice(given.length).join(" ")}`);
  if (given.length > names.length) throw new UsageError(`unexpected argument "${given[names.length]}"`);
  return given;
}

/** The value of `flag` as a positive integer, or `fallback` when not given. */
export function positiveInteger(parsed: ParsedArgs, flag: string, fallback: number): number {
  const text = parsed.flags[flag];
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) <= 0) {
    throw new UsageError(`--${flag} must be a positive whole number, got "${text}"`);
  }
  return Number(text);
}

/** The value of `flag`, which must be one of `choices`. */
export function oneOf<T extends string>(parsed: ParsedArgs, flag: string, choices: readonly T[]): T | undefined {
  const text = parsed.flags[flag];
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`--${flag} must be one of ${choices.join(", ")}; got "${text}"`);
  }
  return text as T;
}

function suggestion(name: string, known: string[]): string {
  const close = known.find((k) => k.startsWith(name) || name.startsWith(k));
  return close ? ` (did you mean --${close}?)` : `; see --help`;
}
