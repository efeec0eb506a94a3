/**
 * The shape of one `coredog` verb, and what it may touch of the outside
 * world (so that tests run a verb in-process with captured output).
 *
 * @module
 */

import type { FlagSpecs, ParsedArgs } from "./args.ts";

/** Where a verb writes and what it may ask about the terminal. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stderr is a terminal (progress bars only then). */
  stderrIsTerminal: boolean;
  env(name: string): string | undefined;
  now(): number;
}

/** One verb. */
export interface Command {
  name: string;
  /** One line for `coredog --help`. */
  summary: string;
  /** The verb's full `--help` text: usage, flags, examples. */
  help: string;
  flags: FlagSpecs;
  /** Runs the verb; resolves with the exit code. */
  run(parsed: ParsedArgs, io: CliIo): Promise<number>;
}

/** The process's own terminal and environment. */
export function processIo(): CliIo {
  const encoder = new TextEncoder();
  return {
    stdout: (text) => writeAll(Deno.stdout, encoder.encode(text)),
    stderr: (text) => writeAll(Deno.stderr, encoder.encode(text)),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    env: (name) => Deno.env.get(name),
    now: () => Date.now(),
  };
}

function writeAll(stream: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
}
