/**
 * Crashes a real process in a directory so that the kernel writes a real
 * core there: `bash -c 'ulimit -c unlimited; kill -SEGV $$'`.
 *
 * @module
 */

/** What the crash left behind. */
export interface CrashResult {
  /** Signal the process died of (`SIGSEGV` when all went as planned); null when it exited instead. */
  signal: Deno.Signal | null;
  /** Core files that appeared in the directory. */
  cores: string[];
}

/**
 * Runs a shell in `dir` that lifts its core size limit and kills itself
 * with SIGSEGV.
 */
export async function crashProcessIn(dir: string): Promise<CrashResult> {
  const before = new Set(await listFiles(dir));
  const output = await new Deno.Command("bash", {
    args: ["-c", "ulimit -c unlimited; kill -SEGV $$"],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  const after = await listFiles(dir);
  return { signal: output.signal, cores: after.filter((f) => !before.has(f)) };
}

async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  return names;
}
