/**
 * The inside of the cluster tier, run by tests/cluster/main.ts in a network
 * and mount namespace of its own: brings up loopback and the test-host
 * address, gives the namespace an /etc/hosts of its own (MinIO's
 * virtual-hosted bucket names), starts the control plane and MinIO, runs
 * every scenario under tests/cluster/scenarios/ one file after another, and
 * stops each process it started by its own pid.
 *
 * Usage (from main.ts): `deno run -A tests/cluster/tier.ts <run-dir> <binaries.json> [scenario files...]`
 *
 * @module
 */

import { join } from "node:path";
import { lastLines, type TierBinaries } from "./support/binaries.ts";
import { APISERVER_ADDRESS, startControlPlane } from "./support/control_plane.ts";
import { MINIO_ACCESS_KEY, MINIO_DOMAIN, MINIO_ENDPOINT, MINIO_SECRET_KEY, startMinio } from "./support/minio.ts";
import { TIER_ENV_VARIABLE, type TierEnv } from "./support/tier_env.ts";

/** Where host processes serve the API server (a webhook Service's EndpointSlice points here). */
const TEST_HOST_ADDRESS = "192.0.2.10";
const CONTROL_PORT = 7777;
const SCENARIO_DIR = new URL("./scenarios/", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

async function sh(command: string[]): Promise<void> {
  const output = await new Deno.Command(command[0], { args: command.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) throw new Error(`${command.join(" ")}: ${lastLines(output.stderr, 5)}`);
}

async function prepareNamespace(runDir: string): Promise<void> {
  await sh(["ip", "link", "set", "lo", "up"]);
  await sh(["ip", "addr", "add", `${APISERVER_ADDRESS}/32`, "dev", "lo"]);
  await sh(["ip", "addr", "add", `${TEST_HOST_ADDRESS}/32`, "dev", "lo"]);
  // Only this mount namespace sees this file; the machine's /etc/hosts is untouched.
  const hosts = join(runDir, "hosts");
  const buckets = ["cores", "cores-vhost", "cli", "signatures"];
  await Deno.writeTextFile(
    hosts,
    [
      "127.0.0.1 localhost",
      `127.0.0.1 ${MINIO_DOMAIN} ${buckets.map((b) => `${b}.${MINIO_DOMAIN}`).join(" ")}`,
      "",
    ].join("\n"),
  );
  await sh(["mount", "--bind", hosts, "/etc/hosts"]);
}

async function main(): Promise<number> {
  const [runDir, binariesFile, ...requested] = Deno.args;
  const binaries: TierBinaries = JSON.parse(await Deno.readTextFile(binariesFile));
  const started = performance.now();
  await prepareNamespace(runDir);
  const controlPlane = await startControlPlane(runDir, binaries);
  const minio = await startMinio(binaries.minio, join(runDir, "minio"), join(runDir, "logs", "minio.log"));
  console.log(`cluster tier: control plane and MinIO up in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const control = Deno.serve({ hostname: "127.0.0.1", port: CONTROL_PORT, onListen: () => {} }, async (request) => {
    if (request.method === "POST" && new URL(request.url).pathname === "/restart-apiserver") {
      await controlPlane.restartApiserver();
      return Response.json({ pid: controlPlane.apiserver.pid });
    }
    return new Response("not found", { status: 404 });
  });

  const env: TierEnv = {
    runDir,
    server: controlPlane.server,
    caCert: controlPlane.pki.caCert,
    adminKubeconfig: controlPlane.adminKubeconfig,
    testHostAddress: TEST_HOST_ADDRESS,
    minio: {
      endpoint: MINIO_ENDPOINT,
      domain: MINIO_DOMAIN,
      accessKeyId: MINIO_ACCESS_KEY,
      secretAccessKey: MINIO_SECRET_KEY,
      pid: minio.pid,
    },
    apiserverPid: controlPlane.apiserver.pid,
    binaries: { helm: binaries.helm, kubectl: binaries.kubectl, kubeApiserver: binaries.kubeApiserver },
    versions: binaries.versions,
    control: `http://127.0.0.1:${CONTROL_PORT}`,
  };
  const envFile = join(runDir, "tier.json");
  await Deno.writeTextFile(envFile, JSON.stringify(env, null, 2));

  const scenarios = requested.length > 0 ? requested : await allScenarios();
  let code = 1;
  try {
    // One file at a time: the chart's cluster-scoped objects (webhook configuration `coredog`, ClusterRoles)
    // exist once per cluster, as in production.
    const test = new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", ...scenarios],
      cwd: ROOT,
      env: {
        [TIER_ENV_VARIABLE]: envFile,
        PATH: `${join(binaries.helm, "..")}:${join(binaries.kubectl, "..")}:${Deno.env.get("PATH") ?? ""}`,
        HOME: join(runDir, "home"),
        HELM_CACHE_HOME: join(runDir, "home", "helm-cache"),
        HELM_CONFIG_HOME: join(runDir, "home", "helm-config"),
        HELM_DATA_HOME: join(runDir, "home", "helm-data"),
        DENO_DIR: Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache", "deno"),
      },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    code = (await test.status).code;
  } finally {
    await control.shutdown();
    if (code !== 0) {
      for (const process of [controlPlane.apiserver, controlPlane.controllerManager, controlPlane.etcd, minio]) {
        console.log(`--- last lines of ${process.name} (${process.logFile}) ---\n${await process.tail(15)}`);
      }
    }
    await minio.stop();
    await controlPlane.stop();
  }
  return code;
}

async function allScenarios(): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(SCENARIO_DIR)) {
    if (entry.isFile && entry.name.endsWith(".ts")) files.push(join(SCENARIO_DIR, entry.name));
  }
  return files.sort();
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(`cluster tier failed to start: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
