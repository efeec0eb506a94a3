/**
 * The chart's ResourceQuota where the API server limits the system-*
 * priority classes, as GKE configures it (issue 11, item 3): a second
 * kube-apiserver of the tier's own build, on its own port and etcd prefix,
 * with a ResourceQuota AdmissionConfiguration whose limitedResources name
 * system-node-critical and system-cluster-critical. Without the chart's
 * quota the watcher's pod is refused; with it, admitted.
 *
 * This server runs no controller manager: the scenario creates the
 * watcher's pod from the DaemonSet's template itself, and writes the
 * quota's status as the quota controller would (hard from spec, nothing
 * used yet), because quota admission refuses a quota whose status is unknown.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { CHART, type Json, NAMESPACE } from "../support/chart.ts";
import { helmOk, kubectl, kubectlResult, scenarioDir } from "../support/kube.ts";
import { startSecondApiserver } from "../support/second_apiserver.ts";

const PORT = 6444;
const ADMISSION_CONFIG = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: ResourceQuota
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: ResourceQuotaConfiguration
      limitedResources:
        - resource: pods
          matchScopes:
            - scopeName: PriorityClass
              operator: In
              values: ["system-node-critical", "system-cluster-critical"]
`;

function watcherPod(manifest: string): Json {
  const objects = parseAllDocuments(manifest).map((doc) => doc.toJS() as Json | null);
  const daemonSet = objects.find((o) => o?.kind === "DaemonSet" && o.metadata.name === "coredog-watcher");
  assert.ok(daemonSet, "the chart renders DaemonSet coredog-watcher");
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "coredog-watcher-node-1", namespace: NAMESPACE, labels: daemonSet.spec.template.metadata.labels },
    spec: daemonSet.spec.template.spec,
  };
}

Deno.test("limited system-* priority classes (GKE's configuration): the watcher's pod is refused without the chart's ResourceQuota and admitted with it", async () => {
  const dir = await scenarioDir("priority-quota");
  const admissionConfig = join(dir, "admission.yaml");
  await Deno.writeTextFile(admissionConfig, ADMISSION_CONFIG);
  const apiserver = await startSecondApiserver(dir, {
    port: PORT,
    // Its own keys in the tier's etcd: nothing of the main API server is seen or changed.
    etcdPrefix: "/coredog-priority-quota",
    admissionPlugins: ["NamespaceLifecycle", "ServiceAccount", "PodSecurity", "ResourceQuota", "Priority"],
    admissionConfig,
  });
  const kubeconfig = apiserver.kubeconfig;
  const kube = (args: string[], stdin?: string) => kubectl(args, { kubeconfig, stdin });
  try {
    await kube(["create", "namespace", NAMESPACE]);
    await kube(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=privileged"]);

    const withoutQuota = await helmOk([
      "template",
      "coredog",
      CHART,
      "-n",
      NAMESPACE,
      "--set",
      "priorityResourceQuota.enabled=false",
    ]);
    assert.doesNotMatch(withoutQuota, /kind: ResourceQuota/);
    await kube(["apply", "-f", "-"], withoutQuota);
    const pod = JSON.stringify(watcherPod(withoutQuota));
    const refused = await kubectlResult(["create", "-f", "-"], { kubeconfig, stdin: pod });
    console.log(`without the quota: ${refused.stderr.trim()}`);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /insufficient quota to match these scopes: \[\{PriorityClass In \[system-node-critical system-cluster-critical\]\}\]/,
    );

    const withQuota = await helmOk(["template", "coredog", CHART, "-n", NAMESPACE]);
    await kube(["apply", "-f", "-"], withQuota);
    // What the quota controller (not running here) writes first.
    await kube([
      "patch",
      "resourcequota",
      "coredog-critical-pods",
      "-n",
      NAMESPACE,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { hard: { pods: "10k" }, used: { pods: "0" } } }),
    ]);
    const admitted = JSON.parse(await kube(["create", "-o", "json", "-f", "-"], pod));
    const priorityClass = JSON.parse(await kube(["get", "priorityclass", "system-node-critical", "-o", "json"]));
    assert.equal(admitted.spec.priority, priorityClass.value);
    const quota = JSON.parse(
      await kube(["get", "resourcequota", "coredog-critical-pods", "-n", NAMESPACE, "-o", "json"]),
    );
    assert.equal(quota.status.used.pods, "1", "admission charged the pod to the chart's quota");
  } finally {
    await apiserver.stop();
  }
});
