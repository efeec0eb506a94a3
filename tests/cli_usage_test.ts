/**
 * The `coredog` command line: help for every verb, and exit code 2 with
 * the bad flag or value named for a command line that cannot be right.
 */

import assert from "node:assert/strict";
import { COMMANDS } from "../src/cli/main.ts";
import { cliInProcess, cliProcess } from "./support/cli_run.ts";

Deno.test("every verb has --help with its usage and examples, exit code 0", async () => {
  for (const command of COMMANDS) {
    const result = await cliInProcess([command.name, "--help"]);
    assert.equal(result.code, 0, command.name);
    assert.match(result.stdout, new RegExp(`^Usage: coredog ${command.name} `), command.name);
    assert.match(result.stdout, /\nExamples?:\n {2}coredog /, command.name);
    // Every flag the verb accepts is explained in its help.
    for (const flag of Object.keys(command.flags)) {
      assert.ok(result.stdout.includes(`--${flag}`), `${command.name} --${flag}`);
    }
  }
  const top = await cliInProcess(["--help"]);
  assert.equal(top.code, 0);
  for (const command of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${command.name} +\\S`, "m"));
});

const USAGE_ERRORS: [string[], RegExp][] = [
  [[], /^Usage: coredog COMMAND/],
  [["lsit"], /unknown command "lsit"; commands: list, info, get, debug, fetch/],
  [["list", "--namespce", "x", "--config", "c.yaml"], /unknown flag --namespce; see --help/],
  [
    ["list", "--since", "yesterday", "--config", "c.yaml"],
    /--since "yesterday" is neither a duration nor a time: use e\.g\. 30m, 2h/,
  ],
  [["list", "--pod", "web-1", "--config", "c.yaml"], /--pod needs -n NAMESPACE/],
  [["list", "-o", "xml", "--config", "c.yaml"], /--output must be one of table, wide, json, yaml; got "xml"/],
  [["list", "--limit", "0", "--config", "c.yaml"], /--limit must be a positive whole number, got "0"/],
  [["list"], /no configuration: pass --config FILE .*or pass --from-cluster/],
  [["list", "--config", "a.yaml", "--from-cluster"], /give --config FILE or --from-cluster, not both/],
  [["list", "--secret", "s3", "--config", "c.yaml"], /--secret only applies with --from-cluster/],
  [["info", "--config", "c.yaml"], /missing ID/],
  [["info", "xyz", "--config", "c.yaml"], /"xyz" is not a core ID/],
  [["get", "abc123", "--output"], /--output needs a value: --output FILE/],
  [["debug", "abc123", "--lifetime", "10s", "--config", "c.yaml"], /--lifetime must be a duration of at least 1m/],
  [["debug", "abc123", "--image", "nginx:1.27", "--config", "c.yaml"], /--image must be pinned by digest/],
  [["fetch", "https://x.example/core"], /--out FILE is required/],
  [["fetch", "ftp://x.example/core", "--out", "c"], /URL must start with http:\/\/ or https:\/\//],
  [["fetch", "https://x.example/core", "--out", "c", "--sha256", "abc"], /--sha256 must be 64 hex digits, got "abc"/],
];

Deno.test("a wrong command line exits 2, naming the bad flag or value and the fix", async () => {
  for (const [args, message] of USAGE_ERRORS) {
    const result = await cliInProcess(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(" "));
    assert.equal(result.stdout, "", args.join(" "));
  }
});

Deno.test("as a process with its task's permissions: exit codes 0, 1 and 2", async () => {
  const help = await cliProcess(["list", "--help"]);
  assert.equal(help.code, 0);
  const usage = await cliProcess(["list", "--since", "soon", "--config", "c.yaml"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--since "soon"/);
  const failure = await cliProcess(["list", "--config", "/nonexistent/coredog.yaml"]);
  assert.equal(failure.code, 1);
  assert.match(failure.stderr, /cannot read the configuration file \/nonexistent\/coredog\.yaml/);
});
