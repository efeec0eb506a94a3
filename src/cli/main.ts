/**
 * The `coredog` command: `list`, `info`, `get` and `debug` on the cores the
 * watcher stored, and `fetch`, the debug pod's download step. Exit codes:
 * 0 done, 1 failed, 2 the command line is wrong.
 *
 * @module
 */

import { ConfigError } from "../core/config.ts";
import { VERSION } from "../version.ts";
import { parseArgs, UsageError } from "./args.ts";
import { type CliIo, type Command, processIo } from "./command.ts";
import { debugCommand } from "./debug.ts";
import { fetchCommand } from "./fetch.ts";
import { getCommand } from "./get.ts";
import { infoCommand } from "./info.ts";
import { listCommand } from "./list.ts";

/** Every verb, in the order `--help` shows them. */
export const COMMANDS: Command[] = [listCommand, infoCommand, getCommand, debugCommand, fetchCommand];

/** `coredog --help`. */
function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: coredog COMMAND [ARGS] (--config FILE | --from-cluster)

The cores CoreDog stored, like coredumpctl for the cluster.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`).join("\n")}

Run "coredog COMMAND --help" for a command's flags and examples.

Examples:
  coredog list --from-cluster -n team-a --since 2h
  coredog info 3f2a9c41d0e7 --from-cluster
  coredog get 3f2a9c41d0e7 --from-cluster -o core
  coredog debug 3f2a9c41d0e7 --from-cluster
`;
}

/** Runs `coredog` with `args`; resolves with the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === "-h" || verb === "--help" || verb === "help") {
    const topic = verb === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (verb === undefined) {
      io.stderr(mainHelp());
      return 2;
    }
    io.stdout(topic ? topic.help : mainHelp());
    return 0;
  }
  if (verb === "--version" || verb === "version") {
    io.stdout(`coredog ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === verb);
  if (!command) {
    io.stderr(`coredog: unknown command "${verb}"; commands: ${COMMANDS.map((c) => c.name).join(", ")}\n`);
    return 2;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    io.stdout(command.help);
    return 0;
  }
  try {
    return await command.run(parseArgs(rest, command.flags), io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`coredog ${verb}: ${error.message}\n${command.help.split("\n\n")[0]}\n`);
      return 2;
    }
    const message = error instanceof ConfigError ? error.message : (error as Error).message;
    io.stderr(`coredog ${verb}: ${message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  // `deno task cli` runs in the repository; it names the directory the user ran it in, where `-o core` belongs.
  const initCwd = Deno.env.get("INIT_CWD");
  if (initCwd) Deno.chdir(initCwd);
  Deno.exit(await runCli(Deno.args, processIo()));
}
