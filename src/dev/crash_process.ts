/**
 * Crashes a real process in a directory so that the kernel writes a real
 * core there: `bash -c 'ulimit -c unlimited; kill -SEGV $$'`.
 *
 * @module
 */

/** What the crash left behind. */
export interface CrashResult {
  /** Signal the process died of (11 for SIGSEGV). */
  signal: number | null;
  /** Core files that appeared in the directory. */
  cores: string[];
}

/**
 * Runs a shell in `dir` that lifts its core size limit and kills itself
 * with SIGSEGV; `extraMiB` first grows the shell's memory so the core is
 * larger.
 */
export async function crashProcessIn(dir: string, options: { extraMiB?: number } = {}): Promise<CrashResult> {
  const before = new Set(await listFiles(dir));
  const grow = options.extraMiB ? `x=$(head -c ${options.extraMiB * 1024 * 1024} /dev/zero | tr '\\0' a); ` : "";
  const output = await new Deno.Command("bash", {
    args: ["-c", `ulimit -c unlimited; ${grow}kill -SEGV $$`],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  const after = await listFiles(dir);
  return { signal: output.signal ? signalNumber(output.signal) : null, cores: after.filter((f) => !before.has(f)) };
}

async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  return names;
}

function signalNumber(signal: Deno.Signal): number {
  return signal === "SIGSEGV" ? 11 : -1;
}
