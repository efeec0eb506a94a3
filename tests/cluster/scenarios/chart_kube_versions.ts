/**
 * The chart's version gating on a real older API server (issue 11, item
 * 7): kube-apiserver 1.30 (support/older_apiserver.ts), beside the tier's
 * 1.35, accepts what `helm template --kube-version 1.27.0` and `1.30.0`
 * render, and `helm install` against it renders matchConditions from the
 * server's own version. No 1.27 server: see older_apiserver.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CHART, EVERY_OPTION, type Json, NAMESPACE } from "../support/chart.ts";
import { helmOk, kubectl, kubectlResult, runCommand, scenarioDir } from "../support/kube.ts";
import { olderApiserverBinary, olderKubeVersion } from "../support/older_apiserver.ts";
import { startSecondApiserver } from "../support/second_apiserver.ts";
import { loadTier } from "../support/tier_env.ts";

const PORT = 6445;

Deno.test(`helm template --kube-version 1.27.0 and 1.30.0 are accepted by a real kube-apiserver ${olderKubeVersion()}, and helm install there renders matchConditions`, async () => {
  const dir = await scenarioDir("kube-versions-older");
  const apiserver = await startSecondApiserver(dir, {
    binary: olderApiserverBinary(),
    port: PORT,
    etcdPrefix: "/coredog-kube-older",
    admissionPlugins: [
      "NamespaceLifecycle",
      "ServiceAccount",
      "MutatingAdmissionWebhook",
      "PodSecurity",
      "ResourceQuota",
      "Priority",
    ],
  });
  const kubeconfig = apiserver.kubeconfig;
  try {
    const version = JSON.parse(await kubectl(["version", "-o", "json"], { kubeconfig }));
    assert.equal(version.serverVersion.gitVersion, olderKubeVersion());
    await kubectl(["create", "namespace", NAMESPACE], { kubeconfig });
    await kubectl(["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=privileged"], { kubeconfig });
    for (const kubeVersion of ["1.27.0", "1.30.0"]) {
      for (const [label, values] of [["defaults", []], ["every option", EVERY_OPTION]] as const) {
        const manifest = await helmOk([
          "template",
          "coredog",
          CHART,
          "-n",
          NAMESPACE,
          "--kube-version",
          kubeVersion,
          ...values,
        ]);
        const file = join(dir, `v${kubeVersion}-${label.replace(" ", "-")}.yaml`);
        await Deno.writeTextFile(file, manifest);
        for (const mode of [["--validate=strict"], ["--server-side", "--validate=strict"]]) {
          const result = await kubectlResult(["apply", "--dry-run=server", ...mode, "-f", file], { kubeconfig });
          assert.equal(result.code, 0, `${kubeVersion} ${label} ${mode.join(" ")}: ${result.stderr}`);
          assert.doesNotMatch(result.stderr, /unknown field|Warning/, `${kubeVersion} ${label}: ${result.stderr}`);
        }
      }
    }
    // A live install reads the server's version: 1.30 has matchConditions (GA).
    const install = await runCommand(loadTier().binaries.helm, [
      "install",
      "coredog",
      CHART,
      "-n",
      NAMESPACE,
      "--kubeconfig",
      kubeconfig,
    ], { timeoutMs: 300_000 });
    assert.equal(install.code, 0, install.stderr);
    const configuration = JSON.parse(
      await kubectl(["get", "mutatingwebhookconfiguration", "coredog", "-o", "json"], { kubeconfig }),
    ) as Json;
    assert.equal(configuration.webhooks[0].matchConditions?.[0]?.name, "coredog-inject-annotation");
  } finally {
    await apiserver.stop();
  }
});
