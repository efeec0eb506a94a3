/**
 * The `deno run` arguments of a task in deno.json, so that tests and
 * benchmarks run a role with exactly the permissions its task (and the
 * compiled binary) has.
 */

const DENO_JSON = new URL("../../deno.json", import.meta.url);

/**
 * `["run", "--allow-read", ..., "src/watcher/main.ts"]` for task `name`,
 * each word as the shell would pass it: a task quotes a word only to keep
 * the shell from expanding a `*` in it, and no word holds a space.
 */
export function taskRunArgs(name: string): string[] {
  const tasks = JSON.parse(Deno.readTextFileSync(DENO_JSON)).tasks;
  const task = tasks[name];
  const command: string = typeof task === "string" ? task : task.command;
  const words = command.split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") throw new Error(`task ${name} is not a deno run: ${command}`);
  return words.slice(1).map((word) => word.replace(/^'(.*)'$/, "$1"));
}
