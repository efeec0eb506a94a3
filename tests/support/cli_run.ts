/**
 * Runs the `coredog` command in the test process (fast, output captured)
 * or as a real process with its task's permissions (exit codes, what the
 * compiled binary may do).
 */

import type { CliIo } from "../../src/cli/command.ts";
import { runCli } from "../../src/cli/main.ts";
import { runDeno } from "./process.ts";
import { taskRunArgs } from "./tasks.ts";

/** What one run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `coredog args` in this process; `env` replaces the environment.
 * `terminal` makes stderr count as a terminal (progress bars).
 */
export async function cliInProcess(
  args: string[],
  env: Record<string, string> = {},
  options: { terminal?: boolean } = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => stdout += text,
    stderr: (text) => stderr += text,
    stderrIsTerminal: options.terminal ?? false,
    env: (name) => env[name],
    now: () => Date.now(),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/**
 * Runs `deno task cli args` as a process (the task's own permissions),
 * with a metadata cache of its own that is removed afterwards.
 */
export async function cliProcess(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const cache = await Deno.makeTempDir({ prefix: "coredog-cli-cache-" });
  const child = runDeno([...taskRunArgs("cli"), ...args], { env: { COREDOG_CACHE_DIR: cache, ...env } });
  const status = await child.status;
  await Deno.remove(cache, { recursive: true });
  // Let the line collectors drain.
  await new Promise((r) => setTimeout(r, 50));
  return { code: status.code, stdout: child.lines.join("\n"), stderr: child.stderr.join("\n") };
}
