/**
 * The chart's RBAC against the API calls the code makes. The calls are read
 * from src/kube/client.ts (every `#request` there, its verb and path) and
 * attributed to a component by where in src/ their methods are called; the
 * chart must grant each exactly, and nothing more. Then the real code runs
 * against the fake kube-apiserver enforcing the chart's rules, as RBAC would.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { KubeClient } from "../src/kube/client.ts";
import { createLogger } from "../src/log.ts";
import { reconcileTls } from "../src/webhook/self_managed_tls.ts";
import { allStaticDocuments, loadTemplates, TEMPLATED } from "./support/chart.ts";
import { attributesOf, type RequestAttributes, startFakeKubeApi } from "./support/fake_kube_api.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const RELEASE_NAMESPACE = "coredog-system";

interface ApiCall {
  method: string;
  verb: RequestAttributes["verb"];
  apiGroup: string;
  resource: string;
  namespaced: boolean;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The calls of src/kube/client.ts, one per `#request`, with the client method that makes it. */
async function clientCalls(): Promise<ApiCall[]> {
  const source = await Deno.readTextFile(join(ROOT, "src/kube/client.ts"));
  const requests = [...source.matchAll(/this\.#request\(\s*"(GET|POST|PUT|PATCH|DELETE)",\s*`([^`]+)`/g)];
  assert.equal(
    requests.length,
    source.match(/this\.#request\(/g)!.length,
    "every #request has a literal verb and path",
  );
  return requests.map((match) => {
    const before = source.slice(0, match.index);
    const method = [...before.matchAll(/\n {2}(?:async )?([a-zA-Z]\w*)\(/g)].at(-1)![1];
    const path = match[2].replace(/\$\{[^}]+\}/g, "x");
    const attributes = attributesOf(match[1], path);
    assert.ok(attributes, `${method}: ${match[2]} is not an API path`);
    return {
      method,
      verb: attributes.verb,
      apiGroup: attributes.apiGroup,
      resource: attributes.resource,
      namespaced: attributes.namespace !== undefined,
    };
  });
}

/** Source files under src/ that call `.method(`, as component names (the first directory). */
async function callersOf(method: string): Promise<Set<string>> {
  const components = new Set<string>();
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (path.endsWith(".ts") && !path.endsWith("src/kube/client.ts")) {
        if (new RegExp(`\\.${method}\\(`).test(await Deno.readTextFile(path))) {
          components.add(relative(join(ROOT, "src"), path).split("/")[0]);
        }
      }
    }
  }
  await walk(join(ROOT, "src"));
  return components;
}

/** The chart's rules for a service account, each with the namespace it applies in (undefined: all). */
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

Deno.test("every API call in src/kube/client.ts is made by a known component and granted to it by the chart, and nothing more", async () => {
  const calls = await clientCalls();
  assert.deepEqual(calls.map((c) => `${c.method}: ${c.verb} ${c.resource}`).sort(), [
    "createEvent: create events",
    "getMutatingWebhookConfiguration: get mutatingwebhookconfigurations",
    "getPod: get pods",
    "getSecret: get secrets",
    "patchMutatingWebhookConfiguration: patch mutatingwebhookconfigurations",
    "updateSecret: update secrets",
  ]);
  const names = await webhookObjectNames();
  const needed = new Map<string, RequestAttributes[]>([["watcher", []], ["webhook", []]]);
  for (const call of calls) {
    const components = await callersOf(call.method);
    assert.ok(components.size > 0, `${call.method} is called somewhere`);
    for (const component of components) {
      assert.ok(needed.has(component), `${call.method} is called from src/${component}/, which has no service account`);
      const name = call.resource === "secrets"
        ? names.secret
        : call.resource === "mutatingwebhookconfigurations"
        ? names.configuration
        : call.verb === "create"
        ? undefined
        : "any-pod";
      const namespace = !call.namespaced ? undefined : component === "webhook" ? RELEASE_NAMESPACE : "team-a";
      needed.get(component)!.push({
        verb: call.verb,
        apiGroup: call.apiGroup,
        resource: call.resource,
        namespace,
        name,
      });
    }
  }
  for (const [component, requests] of needed) {
    const rules = await rulesOf(`coredog-${component}`);
    for (const request of requests) {
      assert.ok(allows(rules, request), `${component} may ${request.verb} ${request.resource} ${request.name ?? ""}`);
    }
    // Least privilege: each verb of each rule is needed by some call of this component.
    for (const { rule } of rules) {
      for (const verb of rule.verbs) {
        for (const resource of rule.resources) {
          assert.ok(
            requests.some((r) => r.verb === verb && r.resource === resource),
            `${component} is granted ${verb} ${resource} but never does it`,
          );
        }
      }
      assert.ok(!rule.verbs.includes("*") && !rule.resources.includes("*") && !rule.apiGroups.includes("*"));
    }
  }
  const webhookRules = await rulesOf("coredog-webhook");
  assert.ok(
    webhookRules.every(({ rule }) => rule.resourceNames?.length === 1),
    "the webhook's rules name their object",
  );
  assert.equal(
    allows(webhookRules, {
      verb: "get",
      apiGroup: "",
      resource: "secrets",
      namespace: RELEASE_NAMESPACE,
      name: "other",
    }),
    false,
  );
  assert.equal(
    allows(webhookRules, { verb: "create", apiGroup: "", resource: "secrets", namespace: RELEASE_NAMESPACE }),
    false,
  );
  const secretRule = webhookRules.find(({ rule }) => rule.resources.includes("secrets"))!;
  assert.equal(secretRule.namespace, RELEASE_NAMESPACE, "Secrets only in the release namespace (a Role)");
  // The Role granting Secrets, and its RoleBinding, are themselves placed in the release namespace by the template.
  const templates = await loadTemplates();
  const roleDocs = (await allStaticDocuments()).filter(({ doc }) =>
    (doc.kind === "Role" && (doc.rules as Rule[]).some((rule) => rule.resources.includes("secrets"))) ||
    doc.kind === "RoleBinding"
  );
  assert.deepEqual(roleDocs.map(({ doc }) => doc.kind).sort(), ["Role", "RoleBinding"]);
  for (const { file, doc } of roleDocs) {
    const metadata = doc.metadata as { name: string; namespace?: unknown };
    assert.equal(metadata.namespace, TEMPLATED, `${doc.kind} ${metadata.name} has a templated metadata.namespace`);
    const source = templates.get(file)!.split(/^---$/m).find((part) =>
      new RegExp(`^kind: ${doc.kind}$`, "m").test(part) && new RegExp(`^  name: ${metadata.name}$`, "m").test(part)
    );
    assert.ok(source, `${doc.kind} ${metadata.name} in ${file}`);
    assert.match(
      source.match(/^metadata:\n((?: .*\n)*)/m)?.[1] ?? "",
      /^ {2}namespace: \{\{ \.Release\.Namespace \}\}$/m,
      `${doc.kind} ${metadata.name}'s metadata.namespace is {{ .Release.Namespace }}`,
    );
  }
});

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

    // The watcher with the watcher's rules: reads a pod, records an event.
    rules = watcherRules;
    assert.ok(await client.getPod("team-a", "web-7d9f8c6b5-x2x4q"));
    await client.createEvent("team-a", {
      metadata: { generateName: "web-7d9f8c6b5-x2x4q." },
      reason: "CoreDumpCaptured",
    });
    assert.deepEqual(api.forbidden, []);

    // And neither may do the other's work.
    await assert.rejects(reconcileTls(client, tlsOptions), /HTTP 403: secrets "coredog-webhook-tls" is forbidden/);
    rules = webhookRules;
    await assert.rejects(client.getPod("team-a", "web-7d9f8c6b5-x2x4q"), /HTTP 403/);
    client.close();
  } finally {
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});
