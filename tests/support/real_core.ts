/**
 * Real ELF cores from really crashed processes, made with the machine's own
 * `core_pattern`. Tests that need one are skipped, with the reason, when
 * the pattern does not write cores into the crashing process's directory.
 */

import { machineCorePattern } from "../../src/dev/core_pattern.ts";
import { crashProcessIn } from "../../src/dev/crash_process.ts";

const verdict = await machineCorePattern();

/** Why real cores cannot be made here, or undefined when they can. */
export const realCoreSkipReason: string | undefined = verdict.ok
  ? undefined
  : `real cores are not possible on this machine: ${verdict.why}`;

if (realCoreSkipReason) console.warn(`SKIPPING real-core tests: ${realCoreSkipReason}`);

/** Crashes bash in `dir` and returns the path of its core. */
export async function makeRealCore(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const result = await crashProcessIn(dir);
  if (result.cores.length !== 1) {
    throw new Error(`expected one core in ${dir}, found ${result.cores.length} (signal ${result.signal})`);
  }
  return `${dir}/${result.cores[0]}`;
}

/** Crashes bash in a scratch directory and returns the core's bytes. */
export async function realCoreBytes(): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "coredog-core-" });
  try {
    return await Deno.readFile(await makeRealCore(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
