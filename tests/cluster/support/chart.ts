/**
 * The chart's scenarios' common steps: where the chart is, a Node object
 * for the DaemonSet controller, the release's pods and events, and the
 * cleanup that leaves no cluster-scoped object of the release behind (the
 * next file installs release `coredog` again).
 *
 * @module
 */

import { eventually, getObject, helm, kubectl } from "./kube.ts";

/** The chart directory. */
export const CHART = new URL("../../../charts", import.meta.url).pathname;
/** The release namespace the README installs into. */
export const NAMESPACE = "coredog-system";
/** The Node the scenarios register (no kubelet behind it): a DaemonSet with no Node creates no pods. */
export const NODE_NAME = "node-1";

/** helm flags that turn on every optional part of the chart at once (cert-manager mode aside: it needs cert-manager's CRDs). */
export const EVERY_OPTION = [
  "--set-literal",
  "config.coredog=StorageConfig: {S3Bucket: b, s3Region: r}\nNoticeChannel: [{chan: console}]\n",
  "--set",
  "existingSecret=coredog-s3.v1",
  "--set",
  "existingSecretAsFiles=true",
  "--set",
  "nodeSetup.corePattern=/corefile/core.%e.%p",
  "--set",
  "nodeSetup.suidDumpable=2",
  "--set",
  "webhook.hostNetwork=true",
  "--set",
  "webhook.port=10250",
  "--set-string",
  "webhook.namespaceSelector.matchLabels.coredog\\.io/enabled=true",
  "--set-string",
  "webhook.objectSelector.matchLabels.coredog\\.io/inject=true",
  "--set",
  "webhook.podDisruptionBudget.maxUnavailable=50%",
  "--set",
  "webhook.priorityClassName=system-cluster-critical",
  "--set",
  "watcher.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::111122223333:role/coredog",
  "--set",
  "webhook.reinvocationPolicy=IfNeeded",
];

// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

/** Registers Node {@linkcode NODE_NAME} (Linux), as a kubelet would, minus the kubelet. */
export async function registerNode(): Promise<void> {
  await kubectl(["apply", "-f", "-"], {
    stdin: JSON.stringify({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: NODE_NAME, labels: { "kubernetes.io/os": "linux", "kubernetes.io/hostname": NODE_NAME } },
    }),
  });
}

/** The stored pods of `namespace` with label `app.kubernetes.io/component=<component>`. */
export async function componentPods(namespace: string, component: string): Promise<Json[]> {
  const list = await getObject(["pods", "-n", namespace, "-l", `app.kubernetes.io/component=${component}`]) as Json;
  return list.items as Json[];
}

/** The messages of the events with `reason` about `name` in `namespace`. */
export async function eventMessages(namespace: string, name: string, reason: string): Promise<string[]> {
  const list = await getObject([
    "events",
    "-n",
    namespace,
    "--field-selector",
    `involvedObject.name=${name},reason=${reason}`,
  ]) as Json;
  return (list.items as Json[]).map((event) => event.message as string);
}

/** The containers of `pod` that have CoreDog's dump directory mounted. */
export function injectedContainers(pod: Json): string[] {
  return (pod.spec.containers as Json[])
    .filter((c) => (c.volumeMounts ?? []).some((m: Json) => m.name === "coredog-corefile"))
    .map((c) => c.name);
}

/**
 * Waits until the API server calls CoreDog's webhook with the caBundle it
 * was just given: it uses a patched configuration about a second later,
 * and until then, with failurePolicy Ignore, a pod would be admitted
 * without injection. Probes with a dry-run pod in `default`.
 */
export async function waitForWebhookTrusted(timeoutMs = 45_000): Promise<void> {
  await waitForNamespace("default");
  await eventually("the API server to call CoreDog with the new caBundle", async () => {
    const probe = JSON.parse(
      await kubectl([
        "run",
        "probe",
        "-n",
        "default",
        "--image=ubuntu",
        "--dry-run=server",
        "-o",
        "json",
        "--annotations=coredog.io/inject=true",
        "--annotations=coredog.io/path=/corefile",
      ]),
    );
    return injectedContainers(probe).length === 1 ? true : undefined;
  }, timeoutMs);
}

/** Waits until ServiceAccount `default` of `namespace` exists (pods need it). */
export async function waitForNamespace(namespace: string): Promise<void> {
  await eventually(
    `ServiceAccount ${namespace}/default`,
    async () => (await getObject(["serviceaccount", "default", "-n", namespace])) ? true : undefined,
    30_000,
  );
}

/**
 * Uninstalls release `coredog` (when installed), then deletes what the
 * docs' uninstall commands delete and what a scenario added: the
 * namespaces (waiting until they are gone), Node {@linkcode NODE_NAME} and
 * any cluster-scoped object of the release that is left.
 */
export async function removeRelease(namespaces: string[], extra: string[][] = []): Promise<void> {
  await helm(["uninstall", "coredog", "-n", NAMESPACE, "--wait"]);
  // A CRD's deletion waits for the API server to remove every object of it, which took over two minutes on a loaded
  // 2-core machine.
  for (const args of extra) await kubectl(["delete", ...args, "--ignore-not-found"], { timeoutMs: 600_000 });
  await kubectl(["delete", "mutatingwebhookconfiguration", "coredog", "--ignore-not-found"]);
  await kubectl([
    "delete",
    "clusterrole,clusterrolebinding",
    "-l",
    "app.kubernetes.io/instance=coredog",
    "--ignore-not-found",
  ]);
  for (const namespace of namespaces) {
    // A pod bound to a Node waits for its kubelet to confirm the deletion; there is none.
    await kubectl(["delete", "pods", "--all", "-n", namespace, "--force", "--grace-period=0", "--ignore-not-found"]);
    await kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=60s"]);
  }
  await kubectl(["delete", "node", NODE_NAME, "--ignore-not-found"]);
}

/** The cluster-scoped objects of release `coredog` that are left, one `kind/name` a line ("" when none). */
export async function clusterScopedLeftovers(): Promise<string> {
  const left = await kubectl([
    "get",
    "mutatingwebhookconfigurations,clusterroles,clusterrolebindings,namespaces",
    "-l",
    "app.kubernetes.io/instance=coredog",
    "-o",
    "name",
  ]);
  return left.trim();
}
