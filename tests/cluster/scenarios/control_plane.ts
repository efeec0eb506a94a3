/**
 * The tier itself: the real API server answers with the pinned version,
 * enforces RBAC and runs the admission plugins CoreDog depends on.
 */

import assert from "node:assert/strict";
import { kubectl, kubectlResult, scenarioDir, serviceAccountIdentity } from "../support/kube.ts";
import { loadTier } from "../support/tier_env.ts";

Deno.test("the control plane reports the pinned Kubernetes version and its admission plugins", async () => {
  const tier = loadTier();
  const version = JSON.parse(await kubectl(["version", "-o", "json"]));
  assert.equal(version.serverVersion.gitVersion, tier.versions.kubernetes);
  const plugins = await kubectl(["get", "--raw", "/readyz?verbose"]);
  assert.match(plugins, /\[\+\]poststarthook\/rbac\/bootstrap-roles ok/);
});

Deno.test("a ServiceAccount without roles is refused by the real authorizer", async () => {
  const dir = await scenarioDir("rbac-smoke");
  await kubectl(["create", "serviceaccount", "nobody", "-n", "default"]);
  try {
    const identity = await serviceAccountIdentity(dir, "default", "nobody");
    const result = await kubectlResult(["get", "pods", "-A"], { kubeconfig: identity.kubeconfig });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /forbidden: User "system:serviceaccount:default:nobody" cannot list resource "pods"/);
  } finally {
    await kubectl(["delete", "serviceaccount", "nobody", "-n", "default"]);
  }
});
