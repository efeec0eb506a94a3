/**
 * Tells whether this machine's `kernel.core_pattern` lets a crashed
 * process write its core into its working directory, which is what the
 * local quickstart needs.
 *
 * @module
 */

/** Whether a crash in a directory leaves its core there, and why not. */
export type CorePatternVerdict =
  | { ok: true; pattern: string }
  | { ok: false; pattern: string; why: string };

/** Judges `pattern` (the contents of /proc/sys/kernel/core_pattern). */
export function judgeCorePattern(pattern: string): CorePatternVerdict {
  const value = pattern.trim();
  if (value.startsWith("|")) {
    return {
      ok: false,
      pattern: value,
      why: `cores are piped to ${value.slice(1).split(" ")[0]} (systemd-coredump, apport or similar), ` +
        "so they never land in a directory. In a cluster, CoreDog's chart can set a file pattern on its nodes " +
        "(nodeSetup.corePattern); on this machine, copy any file into the dump directory to watch the pipeline run.",
    };
  }
  if (value.startsWith("/")) {
    return {
      ok: false,
      pattern: value,
      why: `cores are written to the absolute path ${value}, not to the crashing process's directory.`,
    };
  }
  if (value === "") return { ok: false, pattern: value, why: "core_pattern is empty, so no core is written." };
  return { ok: true, pattern: value };
}

/**
 * Reads and judges this machine's pattern. Deno grants reads under /proc/sys
 * only with --allow-all, so `cat` reads it (needs --allow-run).
 */
export async function machineCorePattern(): Promise<CorePatternVerdict> {
  try {
    const output = await new Deno.Command("cat", { args: ["/proc/sys/kernel/core_pattern"], stderr: "piped" }).output();
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr).trim());
    return judgeCorePattern(new TextDecoder().decode(output.stdout));
  } catch (error) {
    return { ok: false, pattern: "", why: `cannot read /proc/sys/kernel/core_pattern: ${(error as Error).message}` };
  }
}
