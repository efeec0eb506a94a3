/**
 * The chart on the real API server (issue 11): cert-manager mode through
 * `helm upgrade` with cert-manager's real CRDs (items 1), priority and its
 * ResourceQuota resolved by the Priority and ResourceQuota plugins (3),
 * `helm template --kube-version` output accepted by the server (7), and
 * the credentials kept from the webhook (6).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CERT_MANAGER_VERSION, certManagerCrdFiles } from "../support/cert_manager.ts";
import {
  CHART,
  clusterScopedLeftovers,
  componentPods,
  EVERY_OPTION,
  type Json,
  NAMESPACE,
  registerNode,
  removeRelease,
  waitForNamespace,
} from "../support/chart.ts";
import {
  eventually,
  getObject,
  helm,
  helmOk,
  kubectl,
  kubectlResult,
  runCommand,
  scenarioDir,
} from "../support/kube.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
/** The chart before issue 11's change, which rendered the cert-manager Secrets with empty data. */
const CHART_BEFORE = "834f9de";
const TLS_SECRETS = ["coredog-webhook-ca", "coredog-webhook-tls"];
const CERT_MANAGER_MODE = ["--set", "webhook.tls.mode=cert-manager", "--set", "watcher.priorityClassName="];

async function privilegedNamespace(): Promise<void> {
  await kubectl(["create", "namespace", NAMESPACE]);
  await kubectl(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=privileged"]);
  await waitForNamespace(NAMESPACE);
}

async function installCertManagerCrds(): Promise<string[]> {
  const names: string[] = [];
  for (const file of certManagerCrdFiles()) {
    // Server-side: the CRDs are larger than the last-applied annotation may be.
    const out = await kubectl(["apply", "--server-side", "-f", file, "-o", "name"]);
    names.push(out.trim());
  }
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...names]);
  // Established is not enough: a CRD deleted while its storage still initializes keeps its cleanup finalizer for
  // minutes ("storage is (re)initializing", retried with backoff). Listing each kind waits for the storage.
  for (const name of names) {
    const resource = name.replace(/^customresourcedefinition\.apiextensions\.k8s\.io\//, "");
    await eventually(`${resource} served`, async () => {
      const listed = await kubectlResult(["get", resource, "-A", "-o", "name"]);
      return listed.code === 0 ? true : undefined;
    }, 60_000);
  }
  return names;
}

/** A key pair and certificate, as cert-manager's issuing controller writes into a Secret. */
async function tlsPair(dir: string, name: string): Promise<{ crt: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  const result = await runCommand("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    key,
    "-out",
    crt,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const base64 = async (file: string) => btoa(await Deno.readTextFile(file));
  return { crt: await base64(crt), key: await base64(key) };
}

/** Writes both Secrets' data with cert-manager's field manager, as its issuing controller does (server-side apply). */
async function writeAsCertManager(dir: string): Promise<Record<string, Json>> {
  const written: Record<string, Json> = {};
  for (const name of TLS_SECRETS) {
    const pair = await tlsPair(dir, name);
    const data = {
      "tls.crt": pair.crt,
      "tls.key": pair.key,
      ...(name === "coredog-webhook-ca" ? { "ca.crt": pair.crt } : {}),
    };
    await kubectl([
      "apply",
      "--server-side",
      "--force-conflicts",
      "--field-manager=cert-manager-certificates-issuing",
      "-f",
      "-",
    ], {
      stdin: JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/tls",
        metadata: {
          name,
          namespace: NAMESPACE,
          labels: { "app.kubernetes.io/instance": "coredog", "app.kubernetes.io/name": "coredog" },
        },
        data,
      }),
    });
    written[name] = data;
  }
  return written;
}

async function secretState(name: string): Promise<{ data: Json; managers: string[] }> {
  const secret = await getObject(["secret", name, "-n", NAMESPACE, "--show-managed-fields"]) as Json;
  assert.ok(secret, `Secret ${name} exists`);
  return { data: secret.data, managers: (secret.metadata.managedFields as Json[]).map((f) => f.manager) };
}

Deno.test(`cert-manager mode (CRDs of cert-manager ${CERT_MANAGER_VERSION}): helm upgrade after cert-manager wrote the Secrets succeeds three ways and leaves their data alone`, async () => {
  const dir = await scenarioDir("cert-manager");
  let crds: string[] = [];
  // What an earlier file or an interrupted run left (webhook.ts keeps the namespace helm created).
  await removeRelease([NAMESPACE]);
  try {
    crds = await installCertManagerCrds();
    await privilegedNamespace();
    await helmOk(["install", "coredog", CHART, "-n", NAMESPACE, ...CERT_MANAGER_MODE]);
    for (
      const kind of [
        "issuer/coredog-selfsigned",
        "issuer/coredog-ca",
        "certificate/coredog-webhook-ca",
        "certificate/coredog-webhook",
      ]
    ) {
      assert.ok(await getObject([kind, "-n", NAMESPACE]), `${kind} stored`);
    }
    const written = await writeAsCertManager(dir);
    const upgrades = [[], ["--server-side=false"], ["--server-side=true", "--force-conflicts"]];
    for (const [i, flags] of upgrades.entries()) {
      const result = await helm([
        "upgrade",
        "coredog",
        CHART,
        "-n",
        NAMESPACE,
        ...CERT_MANAGER_MODE,
        "--set",
        `webhook.timeoutSeconds=${4 + i}`,
        ...flags,
      ]);
      assert.equal(result.code, 0, `helm upgrade ${flags.join(" ")}: ${result.stderr}`);
      const configuration = await getObject(["mutatingwebhookconfiguration", "coredog"]) as Json;
      assert.equal(configuration.webhooks[0].timeoutSeconds, 4 + i, "the upgrade was applied");
      for (const name of TLS_SECRETS) {
        const state = await secretState(name);
        assert.deepEqual(state.data, written[name], `${name} after helm upgrade ${flags.join(" ")}`);
        assert.ok(!state.managers.includes("helm"), `${name} managers: ${state.managers.join(", ")}`);
      }
    }
    // docs/chart.md's uninstall: helm, then the Secrets cert-manager made (by the chart's labels).
    await helmOk(["uninstall", "coredog", "-n", NAMESPACE, "--wait"]);
    await kubectl([
      "delete",
      "secret",
      "-n",
      NAMESPACE,
      "-l",
      "app.kubernetes.io/instance=coredog",
      "--ignore-not-found",
    ]);
    for (const name of TLS_SECRETS) assert.equal(await getObject(["secret", name, "-n", NAMESPACE]), undefined, name);
  } finally {
    await removeRelease([NAMESPACE], crds.length > 0 ? [crds] : []);
  }
  assert.equal(await clusterScopedLeftovers(), "");
});

Deno.test(`regression: the chart before issue 11 (${CHART_BEFORE}) fails that upgrade or blanks the Secret`, async () => {
  const dir = await scenarioDir("cert-manager-before");
  const oldChart = join(dir, "chart");
  await Deno.mkdir(oldChart);
  const archive = join(dir, "chart.tar");
  assert.equal((await runCommand("git", ["-C", ROOT, "archive", "-o", archive, CHART_BEFORE, "charts"])).code, 0);
  assert.equal((await runCommand("tar", ["-xf", archive, "-C", oldChart])).code, 0);
  const chart = join(oldChart, "charts");
  let crds: string[] = [];
  // What an earlier file or an interrupted run left (webhook.ts keeps the namespace helm created).
  await removeRelease([NAMESPACE]);
  try {
    crds = await installCertManagerCrds();
    await privilegedNamespace();
    await helmOk(["install", "coredog", chart, "-n", NAMESPACE, "--set", "webhook.tls.mode=cert-manager"]);
    const written = await writeAsCertManager(dir);
    const upgrade = await helm([
      "upgrade",
      "coredog",
      chart,
      "-n",
      NAMESPACE,
      "--set",
      "webhook.tls.mode=cert-manager",
      "--set",
      "webhook.timeoutSeconds=6",
    ]);
    console.log(`old chart, helm upgrade: exit ${upgrade.code}: ${upgrade.stderr.trim().slice(0, 400)}`);
    assert.notEqual(upgrade.code, 0);
    assert.match(upgrade.stderr, /conflict/i);
    const forced = await helm([
      "upgrade",
      "coredog",
      chart,
      "-n",
      NAMESPACE,
      "--set",
      "webhook.tls.mode=cert-manager",
      "--force-conflicts",
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    const state = await secretState("coredog-webhook-tls");
    console.log(`old chart, --force-conflicts: tls.crt is now ${JSON.stringify(state.data?.["tls.crt"] ?? null)}`);
    assert.notDeepEqual(state.data, written["coredog-webhook-tls"], "the forced upgrade blanked cert-manager's data");
  } finally {
    await removeRelease([NAMESPACE], crds.length > 0 ? [crds] : []);
  }
});

Deno.test("priority: the watcher pod resolves to system-node-critical's value and ResourceQuota coredog-critical-pods counts it", async () => {
  // What an earlier file or an interrupted run left (webhook.ts keeps the namespace helm created).
  await removeRelease([NAMESPACE]);
  try {
    await registerNode();
    await privilegedNamespace();
    await helmOk(["install", "coredog", CHART, "-n", NAMESPACE]);
    const priorityClass = await getObject(["priorityclass", "system-node-critical"]) as Json;
    const pod = await eventually("a watcher pod", async () => (await componentPods(NAMESPACE, "watcher"))[0], 60_000);
    assert.equal(pod.spec.priorityClassName, "system-node-critical");
    assert.equal(pod.spec.priority, priorityClass.value, "the Priority plugin resolved the class");
    const quota = await eventually("the quota's usage", async () => {
      const q = await getObject(["resourcequota", "coredog-critical-pods", "-n", NAMESPACE]) as Json | undefined;
      return q?.status?.used?.pods === "1" ? q : undefined;
    }, 60_000);
    assert.deepEqual(quota.spec.scopeSelector.matchExpressions[0].values, ["system-node-critical"]);
    // The webhook's pods (no class) are outside the quota's scope.
    assert.ok((await componentPods(NAMESPACE, "webhook")).every((p) => p.spec.priority === 0));
  } finally {
    await removeRelease([NAMESPACE]);
  }
});

Deno.test("version gating: helm template --kube-version 1.27.0 and 1.30.0, defaults and every option, are accepted by the API server's dry run", async () => {
  const dir = await scenarioDir("kube-versions");
  // What an earlier file or an interrupted run left (webhook.ts keeps the namespace helm created).
  await removeRelease([NAMESPACE]);
  try {
    await privilegedNamespace();
    for (const version of ["1.27.0", "1.30.0"]) {
      for (const [label, values] of [["defaults", []], ["every option", EVERY_OPTION]] as const) {
        const manifest = await helmOk([
          "template",
          "coredog",
          CHART,
          "-n",
          NAMESPACE,
          "--kube-version",
          version,
          ...values,
        ]);
        const file = join(dir, `v${version}-${label.replace(" ", "-")}.yaml`);
        await Deno.writeTextFile(file, manifest);
        const hasConditions = /matchConditions:/.test(manifest);
        assert.equal(hasConditions, version !== "1.27.0", `${version}: matchConditions rendered only from 1.28`);
        for (const mode of [["--validate=strict"], ["--server-side", "--validate=strict"]]) {
          const result = await kubectlResult(["apply", "--dry-run=server", ...mode, "-f", file]);
          assert.equal(result.code, 0, `${version} ${label} ${mode.join(" ")}: ${result.stderr}`);
          assert.doesNotMatch(result.stderr, /unknown field|Warning/, `${version} ${label}: ${result.stderr}`);
        }
      }
    }
    const old = await helm(["template", "coredog", CHART, "--kube-version", "1.26.9"]);
    assert.notEqual(old.code, 0);
    assert.match(
      old.stderr,
      /chart requires kubeVersion: >=1\.27\.0-0 which is incompatible with Kubernetes v1\.26\.9/,
    );
  } finally {
    await removeRelease([NAMESPACE]);
  }
});

Deno.test("credentials: set twice, helm install fails with the fix and creates nothing", async () => {
  // What an earlier file or an interrupted run left (webhook.ts keeps the namespace helm created).
  await removeRelease([NAMESPACE]);
  try {
    await privilegedNamespace();
    const result = await helm(["install", "coredog", CHART, "-n", NAMESPACE, "--set", "existingSecret=coredog-s3"]);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /the S3 credentials are set twice: existingSecret=coredog-s3 and StorageConfig\.s3AccesskeyID and StorageConfig\.s3SecretAccessKey in config\.coredog/,
    );
    assert.equal(await getObject(["configmap", "coredog", "-n", NAMESPACE]), undefined);
    const status = await helm(["status", "coredog", "-n", NAMESPACE]);
    assert.match(status.stderr, /release: not found/, "no release recorded");
    const left = await kubectl([
      "get",
      "all,configmaps,secrets,serviceaccounts,roles",
      "-n",
      NAMESPACE,
      "-l",
      "app.kubernetes.io/instance=coredog",
      "-o",
      "name",
    ]);
    assert.equal(left.trim(), "");
    assert.equal(await clusterScopedLeftovers(), "");
  } finally {
    await removeRelease([NAMESPACE]);
  }
});

Deno.test("credentials: with existingSecret, the webhook's ServiceAccount cannot read the S3 Secret and its pods never name it", async () => {
  const webhookAccount = `system:serviceaccount:${NAMESPACE}:coredog-webhook`;
  const watcherAccount = `system:serviceaccount:${NAMESPACE}:coredog-watcher`;
  // What an earlier file or an interrupted run left (webhook.ts keeps the namespace helm created).
  await removeRelease([NAMESPACE]);
  try {
    await registerNode();
    await privilegedNamespace();
    await kubectl([
      "create",
      "secret",
      "generic",
      "coredog-s3",
      "-n",
      NAMESPACE,
      "--from-literal=access-key-id=AKID",
      "--from-literal=secret-access-key=SECRET",
    ]);
    await helmOk([
      "install",
      "coredog",
      CHART,
      "-n",
      NAMESPACE,
      "--set-literal",
      "config.coredog=StorageConfig: {S3Bucket: b, s3Region: r}\nNoticeChannel: [{chan: console}]\n",
      "--set",
      "existingSecret=coredog-s3",
    ]);
    const canI = async (verb: string, resource: string, as: string) =>
      (await kubectlResult(["auth", "can-i", verb, resource, "-n", NAMESPACE, "--as", as])).stdout.trim();
    assert.equal(await canI("get", "secret/coredog-s3", webhookAccount), "no");
    assert.equal(await canI("list", "secrets", webhookAccount), "no");
    assert.equal(await canI("get", "secret/coredog-s3", watcherAccount), "no", "the kubelet reads it for the watcher");
    // The one Secret the webhook may touch, so the check above can say yes at all.
    assert.equal(await canI("update", "secret/coredog-webhook-tls", webhookAccount), "yes");

    const webhookPods = await eventually("the webhook's pods", async () => {
      const pods = await componentPods(NAMESPACE, "webhook");
      return pods.length === 2 ? pods : undefined;
    }, 60_000);
    for (const pod of webhookPods) assert.doesNotMatch(JSON.stringify(pod.spec), /coredog-s3|secretKeyRef|COREDOG_S3_/);
    const webhookConfig = await getObject(["configmap", "coredog-webhook", "-n", NAMESPACE]) as Json;
    assert.doesNotMatch(webhookConfig.data.coredog, /s3AccesskeyID|s3SecretAccessKey|NoticeChannel/);
    const watcher = await eventually(
      "a watcher pod",
      async () => (await componentPods(NAMESPACE, "watcher"))[0],
      60_000,
    );
    const env = watcher.spec.containers[0].env as Json[];
    assert.equal(env.find((e) => e.name === "COREDOG_S3_ACCESS_KEY_ID")?.valueFrom.secretKeyRef.name, "coredog-s3");
  } finally {
    await removeRelease([NAMESPACE]);
  }
});

Deno.test("credentials in config.coredog (the default values): only ConfigMap coredog holds them, the webhook's ConfigMap and ServiceAccount do not", async () => {
  const webhookAccount = `system:serviceaccount:${NAMESPACE}:coredog-webhook`;
  // What an earlier file or an interrupted run left (webhook.ts keeps the namespace helm created).
  await removeRelease([NAMESPACE]);
  try {
    await privilegedNamespace();
    await helmOk(["install", "coredog", CHART, "-n", NAMESPACE]);
    const watcherConfig = await getObject(["configmap", "coredog", "-n", NAMESPACE]) as Json;
    assert.match(watcherConfig.data.coredog, /s3AccesskeyID: "YOUR_ACCESS_KEY"/);
    const webhookConfig = await getObject(["configmap", "coredog-webhook", "-n", NAMESPACE]) as Json;
    assert.doesNotMatch(webhookConfig.data.coredog, /s3AccesskeyID|s3SecretAccessKey|YOUR_|NoticeChannel|qyapi/);
    assert.match(webhookConfig.data.coredog, /S3Bucket: your-bucket/);
    const canI = async (verb: string, resource: string) =>
      (await kubectlResult(["auth", "can-i", verb, resource, "-n", NAMESPACE, "--as", webhookAccount])).stdout.trim();
    assert.equal(await canI("get", "configmap/coredog"), "no");
    const pods = await eventually("the webhook's pods", async () => {
      const list = await componentPods(NAMESPACE, "webhook");
      return list.length === 2 ? list : undefined;
    }, 60_000);
    for (const pod of pods) {
      const volumes = (pod.spec.volumes as Json[]).filter((v) => v.configMap).map((v) => v.configMap.name);
      assert.deepEqual(volumes, ["coredog-webhook"]);
    }
  } finally {
    await removeRelease([NAMESPACE]);
  }
});
