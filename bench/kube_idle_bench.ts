/**
 * Idle RSS of the two roles while they are connected to a Kubernetes API
 * (the fake API server of the tests, over real HTTPS): the watcher with
 * its pod cache listed and watching, the webhook in self-managed TLS mode
 * after it filled its Secret. `bench/idle_bench.ts` measures the roles
 * without a connection; this is the case in which `@kubernetes/client-node`
 * is loaded.
 *
 * Usage: `deno run --allow-all bench/kube_idle_bench.ts [--tree DIR] [--seconds N]`;
 * `--tree` runs the roles of another copy of the repository (e.g. a
 * `git archive` of an earlier commit) with that copy's task permissions.
 *
 * @module
 */

import { join } from "node:path";
import { startFakeKubeApi } from "../tests/support/fake_kube_api.ts";
import { memoryStats } from "./support/proc_stats.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FIXTURES = new URL("../tests/fixtures/kube/", import.meta.url);

/** RSS of one idle role, bytes. */
export interface KubeIdleResult {
  watcherRssBytes: number;
  webhookRssBytes: number;
}

/** Starts both roles of `tree` against a fake API, leaves them idle for `seconds` and reads their RSS. */
export async function runKubeIdleBench(tree: string, seconds: number): Promise<KubeIdleResult> {
  const dir = await Deno.makeTempDir({ prefix: "coredog-kube-idle-" });
  const fixture = async (name: string) => JSON.parse(await Deno.readTextFile(new URL(name, FIXTURES)));
  const pod = await fixture("pod_web.json");
  pod.spec.nodeName = "bench-node";
  const api = await startFakeKubeApi({ [`${pod.metadata.namespace}/${pod.metadata.name}`]: pod }, {
    secrets: { "coredog-system/coredog-webhook-tls": await fixture("secret_webhook_tls_empty.json") },
    mutatingWebhookConfigurations: { coredog: await fixture("mutatingwebhookconfiguration_coredog.json") },
  });
  await Deno.writeTextFile(join(dir, "ca.crt"), api.caPem);
  await Deno.writeTextFile(join(dir, "token"), "bench-token");
  await Deno.writeTextFile(
    join(dir, "kubeconfig"),
    [
      "apiVersion: v1",
      "kind: Config",
      "current-context: bench",
      `clusters: [{name: bench, cluster: {server: "${api.url}", certificate-authority: ${dir}/ca.crt}}]`,
      `users: [{name: bench, user: {tokenFile: ${dir}/token}}]`,
      "contexts: [{name: bench, context: {cluster: bench, user: bench}}]",
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    join(dir, "coredog.yaml"),
    [
      `CorefileDir: ${dir}/dumps`,
      "StorageConfig:",
      "  protocol: local",
      `  CFSMountPath: ${dir}/bucket`,
      "Watcher:",
      "  HealthPort: 0",
      '  KeepFree: "0"',
      '  MaxUse: "0"',
      "",
    ].join("\n"),
  );
  await Deno.mkdir(join(dir, "dumps"), { recursive: true });
  const tasks = JSON.parse(await Deno.readTextFile(join(tree, "deno.json"))).tasks;
  const taskArgs = (name: string): string[] => {
    const command: string = typeof tasks[name] === "string" ? tasks[name] : tasks[name].command;
    return command.split(/\s+/).slice(1);
  };
  const env = { NODE_NAME: "bench-node", KUBECONFIG: "" };
  const kube = ["--kubeconfig", join(dir, "kubeconfig")];
  const watcher = new Deno.Command(Deno.execPath(), {
    args: [...taskArgs("watcher"), "--config", join(dir, "coredog.yaml"), ...kube],
    cwd: tree,
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const webhook = new Deno.Command(Deno.execPath(), {
    args: [
      ...taskArgs("webhook"),
      ...["--config", join(dir, "coredog.yaml"), "--tls-mode", "self-managed", ...kube],
      ...["--namespace", "coredog-system", "--port", "0", "--health-port", "0", "--host", "127.0.0.1"],
    ],
    cwd: tree,
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    if (!api.requests.some((r) => r.verb === "watch")) throw new Error("the watcher never watched pods");
    if (!api.requests.some((r) => r.resource === "secrets" && r.verb === "update")) {
      throw new Error("the webhook never wrote its Secret");
    }
    return {
      watcherRssBytes: memoryStats(watcher.pid).rssBytes,
      webhookRssBytes: memoryStats(webhook.pid).rssBytes,
    };
  } finally {
    for (const child of [watcher, webhook]) {
      child.kill("SIGKILL");
      await child.status;
    }
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const at = (flag: string) => Deno.args.indexOf(flag);
  const tree = at("--tree") >= 0 ? Deno.args[at("--tree") + 1] : ROOT;
  const seconds = at("--seconds") >= 0 ? Number(Deno.args[at("--seconds") + 1]) : 15;
  const result = await runKubeIdleBench(tree, seconds);
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
  console.log(`${tree}: watcher ${mib(result.watcherRssBytes)} MiB, webhook ${mib(result.webhookRssBytes)} MiB`);
}
