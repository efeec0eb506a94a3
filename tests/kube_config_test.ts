/**
 * Where the Kubernetes connection comes from (`--kubeconfig`, `KUBECONFIG`,
 * the pod's service account, `~/.kube/config`) and that a token file is
 * read again for each request, so a rotated bound token is used at once;
 * both roles run as host processes with `--kubeconfig`, as the real
 * control-plane tier runs them. Against the fake API over real HTTPS.
 */

import assert from "node:assert/strict";
import { KubeClient } from "../src/kube/client.ts";
import { loadKubeConnection, SERVICE_ACCOUNT_DIR } from "../src/kube/kube_config.ts";
import { exists, storedRecords, testConfigYaml, waitFor } from "./support/harness.ts";
import { startFakeKubeApi } from "./support/fake_kube_api.ts";
import { runDeno } from "./support/process.ts";
import { taskRunArgs } from "./support/tasks.ts";

const POD = JSON.parse(await Deno.readTextFile(new URL("./fixtures/kube/pod_web.json", import.meta.url)));
const SECRET = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/kube/secret_webhook_tls_empty.json", import.meta.url)),
);
const CONFIGURATION = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/kube/mutatingwebhookconfiguration_coredog.json", import.meta.url)),
);
const PODS = { "team-a/web-7d9f8c6b5-x2x4q": POD };

/** A kubeconfig as the real-cluster tier writes it: a token file and a CA file, here relative to the kubeconfig. */
function kubeconfigYaml(server: string, options: { context?: string; user?: string; tokenFile?: string } = {}): string {
  const user = options.user ?? "coredog";
  return [
    "apiVersion: v1",
    "kind: Config",
    `current-context: ${options.context ?? "tier"}`,
    "clusters:",
    "- name: tier",
    "  cluster:",
    `    server: ${server}`,
    "    certificate-authority: ca.crt",
    "users:",
    `- name: ${user}`,
    "  user:",
    `    tokenFile: ${options.tokenFile ?? "token"}`,
    "contexts:",
    `- name: ${options.context ?? "tier"}`,
    "  context:",
    "    cluster: tier",
    `    user: ${user}`,
    "",
  ].join("\n");
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "coredog-kubeconfig-" });
}

Deno.test("a kubeconfig with tokenFile and certificate-authority: the rotated token is used by the next request", async () => {
  const dir = await tempDir();
  const api = await startFakeKubeApi(PODS);
  try {
    await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
    await Deno.writeTextFile(`${dir}/token`, "token-one\n");
    await Deno.writeTextFile(`${dir}/config`, kubeconfigYaml(api.url));
    const connection = loadKubeConnection({ kubeconfig: `${dir}/config`, env: () => undefined });
    assert.ok(connection);
    assert.equal(connection.server, api.url);
    assert.match(connection.source, /context tier/);
    const client = new KubeClient(connection);
    assert.equal((await client.getPod("team-a", "web-7d9f8c6b5-x2x4q"))?.metadata?.uid, POD.metadata.uid);
    await Deno.writeTextFile(`${dir}/token`, "token-two");
    assert.equal(await client.getPod("team-a", "gone"), undefined);
    // The trailing newline of the file is not part of the token.
    assert.deepEqual(api.authorizations, ["Bearer token-one", "Bearer token-two"]);
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KUBECONFIG lists files and its current context picks the user; --kubeconfig wins over it", async () => {
  const dir = await tempDir();
  const api = await startFakeKubeApi(PODS);
  try {
    await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
    await Deno.writeTextFile(`${dir}/token-a`, "token-a");
    await Deno.writeTextFile(`${dir}/token-b`, "token-b");
    await Deno.mkdir(`${dir}/b`);
    await Deno.writeTextFile(`${dir}/b/ca.crt`, api.caPem);
    await Deno.writeTextFile(
      `${dir}/a.yaml`,
      kubeconfigYaml(api.url, { context: "a", user: "ua", tokenFile: "token-a" }),
    );
    await Deno.writeTextFile(
      `${dir}/b/b.yaml`,
      kubeconfigYaml(api.url, { context: "b", user: "ub", tokenFile: `${dir}/token-b` }),
    );
    const env = (name: string) => name === "KUBECONFIG" ? `${dir}/a.yaml:${dir}/b/b.yaml` : undefined;
    const fromEnv = loadKubeConnection({ env });
    assert.match(fromEnv?.source ?? "", /KUBECONFIG|a\.yaml/);
    await new KubeClient(fromEnv!).getPod("team-a", "web-7d9f8c6b5-x2x4q");
    const explicit = loadKubeConnection({ kubeconfig: `${dir}/b/b.yaml`, env });
    await new KubeClient(explicit!).getPod("team-a", "web-7d9f8c6b5-x2x4q");
    assert.deepEqual(api.authorizations, ["Bearer token-a", "Bearer token-b"]);
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in a pod the service account is used (loadFromCluster), its token re-read; with nothing there is no API", async () => {
  const dir = await tempDir();
  const api = await startFakeKubeApi(PODS);
  try {
    const sa = `${dir}${SERVICE_ACCOUNT_DIR}`;
    await Deno.mkdir(sa, { recursive: true });
    await Deno.writeTextFile(`${sa}/ca.crt`, api.caPem);
    await Deno.writeTextFile(`${sa}/token`, "sa-one");
    await Deno.writeTextFile(`${sa}/namespace`, "coredog-system\n");
    const port = new URL(api.url).port;
    const podEnv: Record<string, string> = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port };
    const previous = Object.fromEntries(Object.keys(podEnv).map((k) => [k, Deno.env.get(k)]));
    // loadFromCluster reads process.env, as it does in a pod.
    for (const [k, v] of Object.entries(podEnv)) Deno.env.set(k, v);
    try {
      const connection = loadKubeConnection({ env: (name) => podEnv[name], inClusterRoot: dir });
      assert.ok(connection?.inCluster);
      assert.equal(connection.namespace, "coredog-system");
      assert.equal(connection.server, `https://127.0.0.1:${port}`);
      const client = new KubeClient(connection);
      await client.getPod("team-a", "web-7d9f8c6b5-x2x4q");
      await Deno.writeTextFile(`${sa}/token`, "sa-two");
      await client.getPod("team-a", "web-7d9f8c6b5-x2x4q");
      assert.deepEqual(api.authorizations, ["Bearer sa-one", "Bearer sa-two"]);
    } finally {
      for (const [k, v] of Object.entries(previous)) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
    assert.equal(loadKubeConnection({ env: (name) => name === "HOME" ? dir : undefined }), undefined);
    await Deno.mkdir(`${dir}/.kube`);
    await Deno.writeTextFile(`${dir}/.kube/config`, "current-context: nowhere\n");
    assert.throws(
      () => loadKubeConnection({ env: (name) => name === "HOME" ? dir : undefined }),
      /kubeconfig .*\.kube\/config .*no current context \(nowhere is not defined\); set one with `kubectl config use-context NAME`/,
    );
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the watcher process with --kubeconfig enriches cores from the API outside a pod", async () => {
  const dir = await tempDir();
  const api = await startFakeKubeApi(PODS);
  const config = `${dir}/coredog.yaml`;
  await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
  await Deno.writeTextFile(`${dir}/token`, "watcher-token");
  await Deno.writeTextFile(`${dir}/kubeconfig`, kubeconfigYaml(api.url));
  await Deno.writeTextFile(
    config,
    testConfigYaml({ corefileDir: `${dir}/dumps`, localDir: `${dir}/bucket`, watcherYaml: [`StateDir: ${dir}/state`] }),
  );
  const watcher = runDeno([...taskRunArgs("watcher"), "--config", config, "--kubeconfig", `${dir}/kubeconfig`]);
  try {
    await watcher.waitForLine(/initial scan complete/);
    assert.ok(watcher.lines.some((l) => l.includes(`kubernetes="${api.url} via kubeconfig`) || l.includes(api.url)));
    const podDir = `${dir}/dumps/team-a/web-7d9f8c6b5-x2x4q/app`;
    await Deno.mkdir(podDir, { recursive: true });
    await Deno.writeTextFile(`${podDir}/core.1`, "a core");
    await waitFor(
      "the core stored",
      async () => (await exists(`${dir}/bucket`)) && !(await exists(`${podDir}/core.1`)),
    );
    await waitFor("the record", async () => (await storedRecords(`${dir}/bucket`)).length === 1);
    const [record] = await storedRecords(`${dir}/bucket`);
    assert.equal(record.pod.uid, POD.metadata.uid);
    assert.deepEqual(record.pod.workload, { kind: "Deployment", name: "web" });
    assert.ok(api.authorizations.every((a) => a === "Bearer watcher-token"));
  } finally {
    watcher.kill("SIGTERM");
    await watcher.status;
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the webhook process in self-managed TLS mode with --kubeconfig and --namespace works outside a pod", async () => {
  const dir = await tempDir();
  const api = await startFakeKubeApi({}, {
    secrets: { "coredog-system/coredog-webhook-tls": SECRET },
    mutatingWebhookConfigurations: { coredog: CONFIGURATION },
  });
  await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
  await Deno.writeTextFile(`${dir}/token`, "webhook-token");
  await Deno.writeTextFile(`${dir}/kubeconfig`, kubeconfigYaml(api.url));
  await Deno.writeTextFile(
    `${dir}/coredog.yaml`,
    testConfigYaml({ corefileDir: `${dir}/dumps`, localDir: `${dir}/bucket` }),
  );
  const webhook = runDeno([
    ...taskRunArgs("webhook"),
    "--config",
    `${dir}/coredog.yaml`,
    "--port",
    "0",
    "--health-port",
    "0",
    "--host",
    "127.0.0.1",
    "--tls-mode",
    "self-managed",
    "--kubeconfig",
    `${dir}/kubeconfig`,
    "--namespace",
    "coredog-system",
  ]);
  try {
    await webhook.waitForLine(/webhook listening/);
    const secret = api.secrets.get("coredog-system/coredog-webhook-tls")!;
    assert.ok(Object.keys((secret.data ?? {}) as object).length > 0, "the Secret was filled");
    const configuration = api.mutatingWebhookConfigurations.get("coredog")! as unknown as {
      webhooks: { clientConfig: { caBundle?: string } }[];
    };
    assert.ok(configuration.webhooks.every((w) => (w.clientConfig.caBundle ?? "").length > 0), "caBundle patched");
    assert.ok(api.authorizations.every((a) => a === "Bearer webhook-token"));
  } finally {
    webhook.kill("SIGTERM");
    await webhook.status;
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});
