/**
 * The chart's RBAC against the API calls the code really makes: each role's
 * code (the webhook's self-managed TLS; the watcher's pod cache, its GET
 * fallback and its event) runs against the fake kube-apiserver enforcing
 * that role's rules, as RBAC would, is never refused, and uses every verb
 * and resource the chart grants it: nothing more is granted. The real
 * control-plane tier proves the same on kube-apiserver.
 */

import assert from "node:assert/strict";
import { KubeClient } from "../src/kube/client.ts";
import { createLogger } from "../src/log.ts";
import { reconcileTls } from "../src/webhook/self_managed_tls.ts";
import { allStaticDocuments } from "./support/chart.ts";
import { PodCache } from "../src/kube/pod_cache.ts";
import { type RequestAttributes, startFakeKubeApi } from "./support/fake_kube_api.ts";
import { waitFor } from "./support/harness.ts";

const RELEASE_NAMESPACE = "coredog-system";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

async function rulesOf(serviceAccount: string): Promise<{ rule: Rule; namespace?: string }[]> {
  // deno-lint-ignore no-explicit-any
  const docs = (await allStaticDocuments()).map(({ doc }) => doc as Record<string, any>);
  const result: { rule: Rule; namespace?: string }[] = [];
  for (const binding of docs.filter((d) => d.kind === "RoleBinding" || d.kind === "ClusterRoleBinding")) {
    const bound = binding.subjects.some((s: { kind: string; name: string }) =>
      s.kind === "ServiceAccount" && s.name === serviceAccount
    );
    if (!bound) continue;
    const role = docs.find((d) => d.kind === binding.roleRef.kind && d.metadata.name === binding.roleRef.name);
    assert.ok(role, `${binding.kind} ${binding.metadata.name} refers to a ${binding.roleRef.kind} the chart has`);
    const namespace = binding.kind === "RoleBinding" ? RELEASE_NAMESPACE : undefined;
    for (const rule of role.rules as Rule[]) result.push({ rule, namespace });
  }
  return result;
}

function allows(rules: { rule: Rule; namespace?: string }[], request: RequestAttributes): boolean {
  return rules.some(({ rule, namespace }) =>
    (namespace === undefined || namespace === request.namespace) &&
    (rule.apiGroups.includes(request.apiGroup) || rule.apiGroups.includes("*")) &&
    (rule.resources.includes(request.resource) || rule.resources.includes("*")) &&
    (rule.verbs.includes(request.verb) || rule.verbs.includes("*")) &&
    (!rule.resourceNames || (request.name !== undefined && rule.resourceNames.includes(request.name)))
  );
}

/** The names the webhook's self-managed TLS works on, as the chart configures it. */
async function webhookObjectNames(): Promise<{ secret: string; configuration: string }> {
  const docs = await allStaticDocuments();
  // deno-lint-ignore no-explicit-any
  const deployment = docs.find(({ doc }) => doc.kind === "Deployment")!.doc as any;
  const env = Object.fromEntries(
    deployment.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
  );
  return { secret: env.COREDOG_WEBHOOK_TLS_SECRET, configuration: env.COREDOG_WEBHOOK_CONFIGURATION };
}

Deno.test("the real code, against an API server that enforces the chart's RBAC rules, is never refused", async () => {
  const watcherRules = await rulesOf("coredog-watcher");
  const webhookRules = await rulesOf("coredog-webhook");
  const names = await webhookObjectNames();
  const secret = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/kube/secret_webhook_tls_empty.json", import.meta.url)),
  );
  const configuration = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/kube/mutatingwebhookconfiguration_coredog.json", import.meta.url)),
  );
  const pod = JSON.parse(await Deno.readTextFile(new URL("./fixtures/kube/pod_web.json", import.meta.url)));
  let rules = webhookRules;
  const api = await startFakeKubeApi({ "team-a/web-7d9f8c6b5-x2x4q": pod }, {
    secrets: { [`${RELEASE_NAMESPACE}/${names.secret}`]: secret },
    mutatingWebhookConfigurations: { [names.configuration]: configuration },
    authorize: (request) => allows(rules, request),
  });
  const dir = await Deno.makeTempDir({ prefix: "coredog-rbac-" });
  try {
    await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
    await Deno.writeTextFile(`${dir}/token`, "token");
    const client = new KubeClient({ apiUrl: api.url, tokenPath: `${dir}/token`, caPath: `${dir}/ca.crt` });
    const tlsOptions = {
      namespace: RELEASE_NAMESPACE,
      secretName: names.secret,
      serviceName: "coredog-webhook",
      webhookConfigurationName: names.configuration,
      caValidityDays: 3650,
      certValidityDays: 365,
      logger: createLogger({ write: () => {} }),
    };
    // The webhook with the webhook's rules: fills the Secret and patches the caBundle.
    await reconcileTls(client, tlsOptions);
    assert.deepEqual(api.forbidden, []);
    assert.deepEqual(used(api.requests), granted(webhookRules), "the webhook uses exactly what it is granted");

    // The watcher with the watcher's rules: lists and watches its node's pods, reads one the cache does not
    // know (it runs on node-7), records an event.
    rules = watcherRules;
    const from = api.requests.length;
    const cache = new PodCache(client, { nodeName: "node-1", logger: createLogger({ write: () => {} }) });
    cache.start();
    await waitFor("the pod cache synced", () => cache.synced());
    assert.ok(await cache.getPod("team-a", "web-7d9f8c6b5-x2x4q"));
    await client.createEvent("team-a", {
      metadata: { generateName: "web-7d9f8c6b5-x2x4q." },
      reason: "CoreDumpCaptured",
    });
    await cache.stop();
    assert.deepEqual(api.forbidden, []);
    assert.deepEqual(used(api.requests.slice(from)), granted(watcherRules), "the watcher uses exactly its grant");

    // And neither may do the other's work.
    await assert.rejects(
      reconcileTls(client, tlsOptions),
      /HTTP 403 Forbidden: secrets "coredog-webhook-tls" is forbidden/,
    );
    rules = webhookRules;
    await assert.rejects(client.getPod("team-a", "web-7d9f8c6b5-x2x4q"), /HTTP 403/);
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** `group/resource verb` of each request, sorted, once each. */
function used(requests: RequestAttributes[]): string[] {
  return [...new Set(requests.map((r) => `${r.apiGroup}/${r.resource} ${r.verb}`))].sort();
}

/** `group/resource verb` of each rule, sorted, once each. */
function granted(rules: { rule: Rule }[]): string[] {
  const all = rules.flatMap(({ rule }) =>
    rule.apiGroups.flatMap((g) => rule.resources.flatMap((r) => rule.verbs.map((v) => `${g}/${r} ${v}`)))
  );
  return [...new Set(all)].sort();
}
