/**
 * The chart and the webhook on the real control plane: `helm install` with
 * the seed's values, the webhook as a host process authenticated as the
 * chart's ServiceAccount, self-managed TLS filling the Secret and the
 * caBundle, and the real API server calling the webhook through the chart's
 * own Service (an EndpointSlice to the test host) and storing what it
 * patched, for pods made by hand and by controllers.
 *
 * The webhook is reached through the chart's Service, not a URL override,
 * so the certificate's name (coredog-webhook.coredog-system.svc), the
 * Service's port name and the caBundle patch are all exercised as in a
 * cluster; only the endpoint is a host process instead of a pod.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { freePort } from "../../support/s3_server.ts";
import {
  roleLog,
  type RoleProcess,
  startWebhookRole,
  waitForRoleLine,
  WEBHOOK_PORT,
} from "../support/coredog_roles.ts";
import {
  eventually,
  getObject,
  helm,
  helmOk,
  kubectl,
  kubectlResult,
  scenarioDir,
  serviceAccountIdentity,
} from "../support/kube.ts";
import {
  CHART,
  injectedContainers,
  type Json,
  NAMESPACE,
  waitForNamespace,
  waitForWebhookTrusted,
} from "../support/chart.ts";
import { loadTier } from "../support/tier_env.ts";

const COREFILE_DIR = "/data/coredog-system/dumps";

/** The seed's values block: S3 credentials, bucket, endpoint, DeleteLocalCorefile and a wechat channel. */
const SEED_VALUES = `config:
  coredog: |-
    StorageConfig:
      s3AccesskeyID: "YOUR_ACCESS_KEY"
      s3SecretAccessKey: "YOUR_SECRET_KEY"
      s3Region: "ap-nanjing"
      S3Bucket: "your-bucket"
      S3Endpoint: "cos.ap-nanjing.myqcloud.com"
      DeleteLocalCorefile: true
    NoticeChannel:
      - chan: wechat
        webhookurl: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=YOUR_KEY"
`;

interface Installed {
  dir: string;
  valuesFile: string;
  webhook: RoleProcess;
  /** Kind/name of every object of the release, from helm's own manifest. */
  objects: string[];
}

let installed: Promise<Installed> | undefined;

/** Installs the chart and starts the webhook once for the whole file; a failure fails every test with its cause. */
function install(): Promise<Installed> {
  installed ??= installOnce();
  return installed;
}

async function installOnce(): Promise<Installed> {
  const dir = await scenarioDir("webhook");
  const valuesFile = join(dir, "seed-values.yaml");
  await Deno.writeTextFile(valuesFile, SEED_VALUES);
  await helmOk(["install", "coredog", CHART, "-n", NAMESPACE, "--create-namespace", "-f", valuesFile]);
  const objects = manifestObjects(await helmOk(["get", "manifest", "coredog", "-n", NAMESPACE]));

  // The chart's Service gets its endpoint from the test host, where the webhook runs as a process.
  const tier = loadTier();
  await kubectl(["apply", "-f", "-"], {
    stdin: JSON.stringify({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "coredog-webhook-test-host",
        namespace: NAMESPACE,
        labels: {
          "kubernetes.io/service-name": "coredog-webhook",
          "endpointslice.kubernetes.io/managed-by": "coredog-cluster-tier",
        },
      },
      addressType: "IPv4",
      ports: [{ name: "https", port: WEBHOOK_PORT, protocol: "TCP" }],
      endpoints: [{ addresses: [tier.testHostAddress], conditions: { ready: true } }],
    }),
  });
  const identity = await serviceAccountIdentity(dir, NAMESPACE, "coredog-webhook");
  // The webhook reads what the chart gives it: ConfigMap coredog-webhook (no credentials).
  const webhookConfig = await getObject(["configmap", "coredog-webhook", "-n", NAMESPACE]) as Json;
  const webhook = await startWebhookRole({
    dir,
    kubeconfig: identity.kubeconfig,
    namespace: NAMESPACE,
    healthPort: freePort(),
    configText: webhookConfig.data.coredog,
  });
  await waitForRoleLine(webhook, /webhook listening/);
  await eventually("self-managed TLS to fill the Secret and the caBundle", async () => {
    const secret = await getObject(["secret", "coredog-webhook-tls", "-n", NAMESPACE]) as Json;
    const configuration = await getObject(["mutatingwebhookconfiguration", "coredog"]) as Json;
    return secret?.data?.["tls.crt"] && configuration?.webhooks?.[0]?.clientConfig?.caBundle ? true : undefined;
  }, 30_000).catch((error) => {
    throw new Error(`${error.message}\n${roleLog(webhook)}`);
  });
  await waitForWebhookTrusted(30_000);
  return { dir, valuesFile, webhook, objects };
}

function manifestObjects(manifest: string): string[] {
  return parseAllDocuments(manifest)
    .map((doc) => doc.toJS() as Json | null)
    .filter((object): object is Json => object?.kind !== undefined)
    .map((object) => `${object.kind}/${object.metadata.name}`);
}

/** The pod as the API server stored it. */
async function storedPod(namespace: string, name: string): Promise<Json> {
  const pod = await getObject(["pod", name, "-n", namespace]);
  assert.ok(pod, `pod ${namespace}/${name} exists`);
  return pod as Json;
}

Deno.test("helm lint --strict passes and helm install with the seed's values creates every object of the chart", async () => {
  const lint = await helm(["lint", "--strict", CHART]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  const { objects } = await install();
  assert.ok(objects.length >= 10, objects.join(", "));
  for (const object of objects) {
    const [kind, name] = object.split("/");
    const scoped = ["MutatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding", "Namespace"].includes(kind);
    const found = await getObject([kind.toLowerCase(), name, ...(scoped ? [] : ["-n", NAMESPACE])]);
    assert.ok(found, `${object} was stored by the API server`);
  }
  const configMap = await getObject(["configmap", "coredog", "-n", NAMESPACE]) as Json;
  assert.match(configMap.data.coredog, /DeleteLocalCorefile: true/);
});

Deno.test("the seed's verification: kubectl run with the annotations gives volume coredog-corefile and the mount", async () => {
  const { webhook } = await install();
  const before = await webhook.metric("coredog_webhook_requests_total");
  await kubectl([
    "run",
    "test",
    "--image=ubuntu",
    "--annotations=coredog.io/inject=true,coredog.io/path=/corefile",
    "--",
    "sleep",
    "3600",
  ]);
  try {
    const pod = await storedPod("default", "test");
    const volume = (pod.spec.volumes as Json[]).find((v) => v.name === "coredog-corefile");
    assert.ok(volume, "volume coredog-corefile");
    // What README.md ("Check the injection") says the user sees.
    assert.equal(volume.hostPath.path, COREFILE_DIR);
    const mount = (pod.spec.containers[0].volumeMounts as Json[]).find((m) => m.name === "coredog-corefile");
    assert.equal(mount?.mountPath, "/corefile");
    assert.equal(mount?.subPathExpr, "default/$(COREDOG_POD_NAME)/test");
    const yaml = await kubectl(["get", "pod", "test", "-o", "yaml"]);
    assert.match(yaml, /name: coredog-corefile/);
    assert.match(yaml, new RegExp(`path: ${COREFILE_DIR}`));
    assert.ok((await webhook.metric("coredog_webhook_requests_total")) > before, "the API server called the webhook");
  } finally {
    await kubectl(["delete", "pod", "test", "--wait=false"]);
  }
});

Deno.test("a Deployment's pods, made by the controller manager from generateName, carry the injection", async () => {
  await install();
  await kubectl(["create", "namespace", "team-a"]);
  try {
    await waitForNamespace("team-a");
    await kubectl(["apply", "-n", "team-a", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "my-app" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "my-app" } },
          template: {
            metadata: {
              labels: { app: "my-app" },
              annotations: {
                "coredog.io/inject": "true",
                "coredog.io/path": "/corefile",
                "coredog.io/container": "app",
              },
            },
            spec: {
              containers: [{
                name: "app",
                image: "my-app:v1",
                command: ["bash", "-c", "ulimit -c unlimited\nexec /app/server"],
              }],
            },
          },
        },
      }),
    });
    const pods = await eventually("the ReplicaSet's two pods", async () => {
      const list = await getObject(["pods", "-n", "team-a", "-l", "app=my-app"]) as Json;
      return list.items.length === 2 ? list.items as Json[] : undefined;
    }, 60_000);
    for (const pod of pods) {
      assert.equal(pod.metadata.ownerReferences[0].kind, "ReplicaSet");
      assert.ok(pod.metadata.generateName.startsWith("my-app-"));
      const app = pod.spec.containers[0];
      const mount = app.volumeMounts.find((m: Json) => m.name === "coredog-corefile");
      assert.equal(mount.subPathExpr, "team-a/$(COREDOG_POD_NAME)/app");
      const env = app.env.find((e: Json) => e.name === "COREDOG_POD_NAME");
      assert.equal(env.valueFrom.fieldRef.fieldPath, "metadata.name");
    }
  } finally {
    await kubectl(["delete", "namespace", "team-a", "--wait=false"]);
  }
});

Deno.test("four containers with coredog.io/container: gamesvr,dbproxy: exactly those two are injected", async () => {
  await install();
  await kubectl(["create", "namespace", "games"]);
  try {
    await waitForNamespace("games");
    const names = ["gamesvr", "dbproxy", "nginx", "metrics"];
    await kubectl(["apply", "-n", "games", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "game" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "game" } },
          template: {
            metadata: {
              labels: { app: "game" },
              annotations: {
                "coredog.io/inject": "true",
                "coredog.io/path": "/corefile",
                "coredog.io/container": "gamesvr,dbproxy",
              },
            },
            spec: { containers: names.map((name) => ({ name, image: `${name}:v1` })) },
          },
        },
      }),
    });
    const pod = await eventually("the game pod", async () => {
      const list = await getObject(["pods", "-n", "games", "-l", "app=game"]) as Json;
      return list.items[0] as Json | undefined;
    }, 60_000);
    assert.deepEqual(injectedContainers(pod), ["gamesvr", "dbproxy"]);
    for (const container of pod.spec.containers as Json[]) {
      const hasEnv = (container.env ?? []).some((e: Json) => e.name === "COREDOG_POD_NAME");
      assert.equal(hasEnv, ["gamesvr", "dbproxy"].includes(container.name), container.name);
    }
  } finally {
    await kubectl(["delete", "namespace", "games", "--wait=false"]);
  }
});

Deno.test("skips: a dangerous path and a missing path are created unchanged, and kubectl prints the webhook's warning", async () => {
  await install();
  const cases = [
    {
      name: "skip-dangerous",
      annotations: { "coredog.io/inject": "true", "coredog.io/path": "/etc" },
      warning: /\/etc/,
    },
    { name: "skip-missing", annotations: { "coredog.io/inject": "true" }, warning: /coredog\.io\/path is required/ },
  ];
  for (const c of cases) {
    const result = await kubectlResult(["apply", "-n", "default", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: c.name, annotations: c.annotations },
        spec: { containers: [{ name: "app", image: "ubuntu" }] },
      }),
    });
    try {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /^Warning: /m, `${c.name}: kubectl shows a warning`);
      assert.match(result.stderr, c.warning, result.stderr);
      const pod = await storedPod("default", c.name);
      assert.deepEqual(injectedContainers(pod), [], `${c.name} is unchanged`);
      assert.ok(!(pod.spec.volumes as Json[]).some((v) => v.name === "coredog-corefile"));
    } finally {
      await kubectl(["delete", "pod", c.name, "-n", "default", "--wait=false"]);
    }
  }
});

Deno.test("a namespace enforcing the restricted level never reaches the webhook, and its pods are created unchanged", async () => {
  const { webhook } = await install();
  await kubectl(["create", "namespace", "locked"]);
  try {
    await kubectl(["label", "namespace", "locked", "pod-security.kubernetes.io/enforce=restricted"]);
    await waitForNamespace("locked");
    const before = await webhook.metric("coredog_webhook_requests_total");
    const result = await kubectlResult(["apply", "-n", "locked", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "strict", annotations: { "coredog.io/inject": "true", "coredog.io/path": "/corefile" } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{
            name: "app",
            image: "ubuntu",
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          }],
        },
      }),
    });
    assert.equal(result.code, 0, result.stderr);
    const pod = await storedPod("locked", "strict");
    assert.deepEqual(injectedContainers(pod), []);
    assert.equal(await webhook.metric("coredog_webhook_requests_total"), before, "the namespaceSelector kept it away");
  } finally {
    await kubectl(["delete", "namespace", "locked", "--wait=false"]);
  }
});

Deno.test("matchConditions are evaluated by the API server: an unannotated pod never reaches the webhook", async () => {
  const { webhook } = await install();
  const configuration = await getObject(["mutatingwebhookconfiguration", "coredog"]) as Json;
  assert.ok(configuration.webhooks[0].matchConditions?.length > 0, "the chart rendered matchConditions");
  const before = await webhook.metric("coredog_webhook_requests_total");
  await kubectl(["run", "plain", "--image=ubuntu", "--", "sleep", "1"]);
  try {
    const pod = await storedPod("default", "plain");
    assert.deepEqual(injectedContainers(pod), []);
    assert.equal(await webhook.metric("coredog_webhook_requests_total"), before);
    // The same request with the annotation does reach it (the counter can move at all).
    await kubectl([
      "run",
      "annotated",
      "--image=ubuntu",
      "--annotations=coredog.io/inject=true,coredog.io/path=/corefile",
    ]);
    assert.equal(await webhook.metric("coredog_webhook_requests_total"), before + 1);
  } finally {
    await kubectl(["delete", "pod", "plain", "annotated", "--wait=false", "--ignore-not-found"]);
  }
});

Deno.test("helm upgrade twice with changed values keeps the webhook's TLS Secret and the caBundle", async () => {
  const { valuesFile } = await install();
  const secretBefore = await getObject(["secret", "coredog-webhook-tls", "-n", NAMESPACE]) as Json;
  const bundleBefore = (await getObject(["mutatingwebhookconfiguration", "coredog"]) as Json).webhooks[0].clientConfig
    .caBundle;
  assert.ok(secretBefore.data["tls.crt"] && bundleBefore);
  for (const timeout of ["4", "6"]) {
    await helmOk([
      "upgrade",
      "coredog",
      CHART,
      "-n",
      NAMESPACE,
      "-f",
      valuesFile,
      "--set",
      `webhook.timeoutSeconds=${timeout}`,
      "--set",
      `watcher.logLevel=${timeout === "4" ? "debug" : "info"}`,
    ]);
    const configuration = await getObject(["mutatingwebhookconfiguration", "coredog"]) as Json;
    assert.equal(configuration.webhooks[0].timeoutSeconds, Number(timeout), "the upgrade was applied");
    assert.equal(configuration.webhooks[0].clientConfig.caBundle, bundleBefore, "caBundle kept");
    const secret = await getObject(["secret", "coredog-webhook-tls", "-n", NAMESPACE]) as Json;
    assert.deepEqual(secret.data, secretBefore.data, "TLS Secret kept");
  }
  // And the API server still trusts the webhook after the upgrades.
  await kubectl([
    "run",
    "after-upgrade",
    "--image=ubuntu",
    "--annotations=coredog.io/inject=true,coredog.io/path=/corefile",
  ]);
  try {
    assert.deepEqual(injectedContainers(await storedPod("default", "after-upgrade")), ["after-upgrade"]);
  } finally {
    await kubectl(["delete", "pod", "after-upgrade", "--wait=false"]);
  }
});

Deno.test("with the webhook down, pods are still created within the configured timeout", async () => {
  const { webhook } = await install();
  await webhook.stop();
  const configuration = await getObject(["mutatingwebhookconfiguration", "coredog"]) as Json;
  const timeoutSeconds = configuration.webhooks[0].timeoutSeconds as number;
  const started = performance.now();
  await kubectl([
    "run",
    "while-down",
    "--image=ubuntu",
    "--annotations=coredog.io/inject=true,coredog.io/path=/corefile",
  ]);
  const seconds = (performance.now() - started) / 1000;
  try {
    const pod = await storedPod("default", "while-down");
    assert.deepEqual(injectedContainers(pod), [], "created without injection (failurePolicy Ignore)");
    assert.ok(seconds < timeoutSeconds + 2, `created in ${seconds.toFixed(1)} s, timeout ${timeoutSeconds} s`);
  } finally {
    await kubectl(["delete", "pod", "while-down", "--wait=false"]);
  }
});

Deno.test("helm uninstall and the README's uninstall commands leave nothing of the release behind", async () => {
  const { objects } = await install();
  await helmOk(["uninstall", "coredog", "-n", NAMESPACE]);
  await kubectl(["delete", "mutatingwebhookconfiguration", "coredog", "--ignore-not-found"]);
  for (const object of objects) {
    const [kind, name] = object.split("/");
    const scoped = ["MutatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding", "Namespace"].includes(kind);
    await eventually(
      `${object} to be deleted`,
      async () =>
        (await getObject([kind.toLowerCase(), name, ...(scoped ? [] : ["-n", NAMESPACE])])) ? undefined : true,
    );
  }
  const left = await kubectl([
    "get",
    "all,secrets,configmaps,serviceaccounts,roles,rolebindings",
    "-n",
    NAMESPACE,
    "-l",
    "app.kubernetes.io/name=coredog",
    "-o",
    "name",
  ]);
  assert.equal(left.trim(), "", `left behind: ${left}`);
  await kubectl(["delete", "endpointslice", "coredog-webhook-test-host", "-n", NAMESPACE, "--ignore-not-found"]);
  installed = undefined;
});
