/**
 * The watcher's flags, read by the parser the webhook uses too
 * (src/flag_parser.ts): the table, and the real process's exit codes and
 * messages for a user's mistakes.
 */

import assert from "node:assert/strict";
import { parseWatcherFlags, WATCHER_FLAGS, watcherUsage } from "../src/watcher/flags.ts";
import { exitWithin, runDeno } from "./support/process.ts";
import { taskRunArgs } from "./support/tasks.ts";

const noEnv = () => undefined;

Deno.test("with no flags the watcher reads the chart's config path and finds the API on its own", () => {
  assert.deepEqual(parseWatcherFlags([], noEnv), {
    help: false,
    configPath: "/etc/coredog/coredog.yaml",
    kubeconfig: "",
  });
});

Deno.test("--flag value, --flag=value and the variables set the watcher up; a flag beats its variable", () => {
  const env: Record<string, string> = { COREDOG_CONFIG: "/env/coredog.yaml", COREDOG_KUBECONFIG: "/env/kubeconfig" };
  assert.deepEqual(parseWatcherFlags([], (name) => env[name]), {
    help: false,
    configPath: "/env/coredog.yaml",
    kubeconfig: "/env/kubeconfig",
  });
  assert.deepEqual(parseWatcherFlags(["--config", "/a.yaml", "--kubeconfig=/k"], (name) => env[name]), {
    help: false,
    configPath: "/a.yaml",
    kubeconfig: "/k",
  });
  // An empty variable is as good as unset, as in the webhook.
  assert.equal(
    parseWatcherFlags([], (name) => name === "COREDOG_CONFIG" ? "" : undefined).configPath,
    "/etc/coredog/coredog.yaml",
  );
});

Deno.test("a wrong flag or a missing value is an error that names the flag", () => {
  assert.throws(() => parseWatcherFlags(["--conifg", "/a.yaml"], noEnv), /unknown argument --conifg; see --help/);
  assert.throws(() => parseWatcherFlags(["/a.yaml"], noEnv), /unknown argument \/a\.yaml; see --help/);
  assert.throws(() => parseWatcherFlags(["--config"], noEnv), /--config needs a value: --config <value>/);
  assert.throws(() => parseWatcherFlags(["--config="], noEnv), /--config needs a value/);
  // The next flag is not taken for the forgotten value.
  assert.throws(() => parseWatcherFlags(["--config", "--kubeconfig", "/k"], noEnv), /--config needs a value/);
});

Deno.test("--help lists every flag with its variable and default", () => {
  assert.equal(parseWatcherFlags(["--help"], noEnv).help, true);
  const usage = watcherUsage();
  assert.match(usage, /^Usage: coredog-watcher \[flags\]/);
  for (const { flag, env } of WATCHER_FLAGS) {
    assert.ok(usage.includes(flag), flag);
    assert.ok(usage.includes(env), env);
  }
  assert.ok(usage.includes("default /etc/coredog/coredog.yaml"), usage);
});

const WATCHER = taskRunArgs("watcher");

async function run(args: string[], env: Record<string, string> = {}) {
  const process = runDeno([...WATCHER, ...args], { env });
  const status = await exitWithin(process, 20_000);
  return { code: status.code, stdout: process.lines.join("\n"), stderr: process.stderr.join("\n") };
}

Deno.test("the watcher process exits 2 for a usage error, naming the flag, and 0 for --help", async () => {
  const unknown = await run(["--conifg", "/etc/coredog/coredog.yaml"]);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /unknown argument --conifg; see --help/);
  assert.match(unknown.stderr, /Usage: coredog-watcher/);
  const missing = await run(["--config"]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /--config needs a value/);
  const help = await run(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--kubeconfig <value>/);
  assert.match(help.stdout, /env COREDOG_KUBECONFIG/);
});

Deno.test("the watcher process reads the config --config=<file> or COREDOG_CONFIG names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-watcher-flags-" });
  try {
    // Files that do not exist: the process says which one it tried and exits 1 (not a usage error).
    const byFlag = await run([`--config=${dir}/flag.yaml`], { COREDOG_CONFIG: `${dir}/env.yaml` });
    assert.equal(byFlag.code, 1, byFlag.stderr);
    assert.match(byFlag.stdout, new RegExp(`cannot read the configuration file ${dir}/flag\\.yaml`));
    const byEnv = await run([], { COREDOG_CONFIG: `${dir}/env.yaml` });
    assert.equal(byEnv.code, 1, byEnv.stderr);
    assert.match(byEnv.stdout, new RegExp(`cannot read the configuration file ${dir}/env\\.yaml`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
