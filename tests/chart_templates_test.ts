/**
 * The chart's templates. No helm binary here: each template's static YAML
 * (actions taken out) must parse, and the parts that matter are checked in
 * it: names, labels, security contexts, probes, the webhook registration.
 * The node-setup script runs for real against a directory laid out like
 * /proc/sys. Where `helm` is on PATH, `helm lint` and `helm template` run
 * too and every rendered object is validated against the Kubernetes schema.
 */

import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { decideInjection } from "../src/core/injection_rules.ts";
import { CHART_DIR, loadTemplates, staticDocuments, staticObject, TEMPLATED } from "./support/chart.ts";
import { findHelm, helm } from "./support/helm.ts";

Deno.test("every template's static YAML parses, with no duplicate keys", async () => {
  const templates = await loadTemplates();
  const yamlFiles = [...templates.keys()].filter((name) => name.endsWith(".yaml"));
  assert.ok(yamlFiles.length >= 10, yamlFiles.join(", "));
  for (const name of yamlFiles) {
    const docs = staticDocuments(name, templates.get(name)!);
    for (const doc of docs) {
      assert.ok(typeof doc.apiVersion === "string" && typeof doc.kind === "string", `${name}: apiVersion and kind`);
      const metadata = doc.metadata as Record<string, unknown>;
      assert.ok(metadata?.name, `${name}: ${doc.kind} has a name`);
    }
  }
});

Deno.test("ConfigMap coredog holds the configuration under key coredog, as the seed's kubectl command expects", async () => {
  const configMap = await staticObject("ConfigMap", "coredog");
  assert.deepEqual(Object.keys(configMap.data), ["coredog"]);
  const templates = await loadTemplates();
  assert.match(templates.get("configmap.yaml")!, /coredog: \{\{ \.Values\.config\.coredog \| quote \}\}/);
});

Deno.test("the watcher DaemonSet: every node, root with three capabilities, probes, node facts, time to finish an upload", async () => {
  const ds = await staticObject("DaemonSet", "coredog-watcher");
  const pod = ds.spec.template.spec;
  assert.equal(ds.spec.template.metadata.labels["app.kubernetes.io/component"], "watcher");
  assert.equal(ds.spec.selector.matchLabels["app.kubernetes.io/component"], "watcher");
  const watcher = pod.containers.find((c: { name: string }) => c.name === "watcher");
  assert.deepEqual(watcher.command, ["/usr/local/bin/coredog-watcher"]);
  assert.deepEqual(watcher.securityContext, {
    runAsUser: 0,
    runAsGroup: 0,
    runAsNonRoot: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"], add: ["DAC_READ_SEARCH", "DAC_OVERRIDE", "FOWNER"] },
  });
  assert.deepEqual(pod.securityContext, { seccompProfile: { type: "RuntimeDefault" } });
  const env = Object.fromEntries(watcher.env.map((e: { name: string; valueFrom?: unknown }) => [e.name, e.valueFrom]));
  assert.deepEqual(env.NODE_NAME, { fieldRef: { fieldPath: "spec.nodeName" } });
  assert.deepEqual(env.HOST_IP, { fieldRef: { fieldPath: "status.hostIP" } });
  assert.equal(watcher.livenessProbe.httpGet.path, "/healthz");
  assert.equal(watcher.readinessProbe.httpGet.path, "/readyz");
  assert.equal(watcher.ports[0].name, "metrics");
  const dumps = pod.volumes.find((v: { name: string }) => v.name === "dumps");
  assert.equal(dumps.hostPath.type, "DirectoryOrCreate");
  const mount = watcher.volumeMounts.find((m: { name: string }) => m.name === "dumps");
  assert.equal(mount.mountPath, TEMPLATED, "mounted at CorefileDir, the same path as on the node");
  assert.equal(pod.serviceAccountName, "coredog-watcher");

  // The watcher waits 55 s for uploads after SIGTERM; the kubelet must wait longer before SIGKILL.
  const values = await Deno.readTextFile(`${CHART_DIR}/values.yaml`);
  const grace = Number(values.match(/terminationGracePeriodSeconds: (\d+)/)![1]);
  const main = await Deno.readTextFile(new URL("../src/watcher/main.ts", import.meta.url));
  const shutdownMs = Number(main.match(/SHUTDOWN_GRACE_MS = ([\d_]+)/)![1].replaceAll("_", ""));
  assert.ok(grace * 1000 >= shutdownMs + 10_000, `${grace} s vs the watcher's ${shutdownMs} ms`);

  // The optional node setup: a privileged init container running the chart's script.
  const init = pod.initContainers.find((c: { name: string }) => c.name === "node-setup");
  assert.deepEqual(init.securityContext, { privileged: true, runAsUser: 0 });
  assert.deepEqual(init.command, ["/bin/sh", "-c"]);
  const templates = await loadTemplates();
  assert.match(templates.get("watcher-daemonset.yaml")!, /\{\{- if \.Values\.nodeSetup\.corePattern \}\}/);
  assert.match(templates.get("watcher-daemonset.yaml")!, /\.Files\.Get "files\/node-setup\.sh"/);
});

Deno.test("the webhook Deployment: 2 replicas spread out, non-root, read-only, no capabilities, RuntimeDefault, probes", async () => {
  const deployment = await staticObject("Deployment", "coredog-webhook");
  const pod = deployment.spec.template.spec;
  assert.equal(deployment.spec.template.metadata.labels["app.kubernetes.io/component"], "webhook");
  assert.deepEqual(pod.securityContext, {
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    seccompProfile: { type: "RuntimeDefault" },
  });
  const webhook = pod.containers[0];
  assert.deepEqual(webhook.command, ["/usr/local/bin/coredog-webhook"]);
  assert.deepEqual(webhook.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });
  assert.deepEqual(webhook.ports.map((p: { containerPort: number }) => p.containerPort), [8443, 9103]);
  assert.equal(webhook.livenessProbe.httpGet.port, "metrics");
  assert.equal(webhook.readinessProbe.httpGet.path, "/readyz");
  const env = Object.fromEntries(webhook.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  // Self-managed TLS (the default): the certificate lives in the Secret and in memory, so no file and no
  // volume; only cert-manager's Secret is mounted, and only in that mode.
  assert.equal(env.COREDOG_WEBHOOK_TLS_MODE, "self-managed");
  assert.equal(env.COREDOG_WEBHOOK_TLS_SECRET, "coredog-webhook-tls");
  assert.equal("COREDOG_WEBHOOK_TLS_CERT" in env, false);
  const templates = await loadTemplates();
  const deploymentTemplate = templates.get("webhook-deployment.yaml")!;
  assert.match(
    deploymentTemplate,
    /\{\{- if not \$selfManaged \}\}\n\s+- name: tls\n\s+mountPath: \/etc\/coredog-webhook\/tls/,
  );
  assert.match(
    deploymentTemplate,
    /\{\{- if not \$selfManaged \}\}\n\s+# Issued by cert-manager[^\n]*\n\s+- name: tls\n\s+secret:/,
  );

  const values = await Deno.readTextFile(`${CHART_DIR}/values.yaml`);
  assert.match(values, /^ {2}replicas: 2$/m);
  assert.match(values, /podAntiAffinity:\n\s+preferredDuringSchedulingIgnoredDuringExecution:/);
  const pdb = await staticObject("PodDisruptionBudget", "coredog-webhook");
  assert.equal(pdb.apiVersion, "policy/v1");
  assert.match(templates.get("webhook-pdb.yaml")!, /^\{\{- if gt \(int \.Values\.webhook\.replicas\) 1 \}\}/);

  const service = await staticObject("Service", "coredog-webhook");
  assert.deepEqual(service.spec.ports, [{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }]);
});

Deno.test("MutatingWebhookConfiguration coredog: pods on CREATE, opted-in pods only, system and Pod Security namespaces left out", async () => {
  const configuration = await staticObject("MutatingWebhookConfiguration", "coredog");
  assert.equal(configuration.webhooks.length, 1);
  const webhook = configuration.webhooks[0];
  assert.deepEqual(webhook.admissionReviewVersions, ["v1"]);
  assert.equal(webhook.sideEffects, "None");
  assert.equal(webhook.reinvocationPolicy, "IfNeeded");
  assert.deepEqual(webhook.rules, [{
    apiGroups: [""],
    apiVersions: ["v1"],
    operations: ["CREATE"],
    resources: ["pods"],
    scope: "Namespaced",
  }]);
  assert.deepEqual(webhook.clientConfig, {
    service: { name: "coredog-webhook", namespace: TEMPLATED, path: "/mutate", port: 443 },
  });
  const [names, security] = webhook.namespaceSelector.matchExpressions;
  assert.equal(names.key, "kubernetes.io/metadata.name");
  assert.equal(names.operator, "NotIn");
  assert.deepEqual(names.values.slice(0, 4), ["kube-system", "kube-public", "kube-node-lease", TEMPLATED]);
  assert.deepEqual(security, {
    key: "pod-security.kubernetes.io/enforce",
    operator: "NotIn",
    values: ["baseline", "restricted"],
  });
  assert.equal(webhook.matchConditions[0].expression.includes("\n"), false, "one CEL expression");
  const values = await Deno.readTextFile(`${CHART_DIR}/values.yaml`);
  assert.match(values, /failurePolicy: Ignore/);
  assert.match(values, /timeoutSeconds: 5/);

  // The recorded object in tests/fixtures/kube (what the self-managed TLS tests patch) is this one.
  const recorded = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/kube/mutatingwebhookconfiguration_coredog.json", import.meta.url)),
  );
  assert.equal(recorded.webhooks[0].matchConditions[0].expression, webhook.matchConditions[0].expression);
  assert.deepEqual(recorded.webhooks[0].rules, webhook.rules);
});

Deno.test("the matchConditions expression selects exactly the pods the webhook itself injects", async () => {
  // This one expression, evaluated by hand, against the webhook's own rule (decideInjection).
  const injectionRequested = (annotations: Record<string, string>) => {
    const decision = decideInjection({ metadata: { annotations }, spec: { containers: [{ name: "app" }] } });
    return decision.inject || decision.reason !== "not-enabled";
  };
  const configuration = await staticObject("MutatingWebhookConfiguration", "coredog");
  const expression: string = configuration.webhooks[0].matchConditions[0].expression;
  assert.equal(
    expression,
    "has(object.metadata.annotations) && 'coredog.io/inject' in object.metadata.annotations && " +
      "object.metadata.annotations['coredog.io/inject'].trim().lowerAscii() == 'true'",
  );
  const celLike = (annotations?: Record<string, string>) =>
    annotations !== undefined && "coredog.io/inject" in annotations &&
    annotations["coredog.io/inject"].trim().toLowerCase() === "true";
  const cases: (Record<string, string> | undefined)[] = [
    undefined,
    {},
    { "coredog.io/inject": "true" },
    { "coredog.io/inject": " True " },
    { "coredog.io/inject": "false" },
    { "coredog.io/inject": "yes" },
    { "coredog.io/path": "/corefile" },
  ];
  for (const annotations of cases) {
    assert.equal(celLike(annotations), injectionRequested(annotations ?? {}), JSON.stringify(annotations));
  }
});

Deno.test("no key material in the chart: the TLS Secret is created empty, cert-manager Secrets too", async () => {
  const secret = await staticObject("Secret", "coredog-webhook-tls");
  assert.equal(secret.type, "Opaque");
  assert.equal(secret.data, undefined);
  assert.equal(secret.stringData, undefined);
  const templates = await loadTemplates();
  for (const [name, text] of templates) {
    assert.doesNotMatch(text, /BEGIN (CERTIFICATE|PRIVATE KEY)|genCA|genSignedCert|genSelfSignedCert|lookup /, name);
  }
  const certManager = staticDocuments("webhook-certificate.yaml", templates.get("webhook-certificate.yaml")!);
  const serving = certManager.find((d) =>
    d.kind === "Certificate" && (d.metadata as { name: string }).name === "coredog-webhook"
  );
  assert.deepEqual((serving as { spec: { secretName: string } }).spec.secretName, "coredog-webhook-tls");
  const empty = certManager.find((d) => d.kind === "Secret") as { data: Record<string, string> };
  assert.deepEqual(empty.data, { "tls.crt": "", "tls.key": "" });
  assert.match(
    templates.get("mutatingwebhookconfiguration.yaml")!,
    /cert-manager\.io\/inject-ca-from: \{\{ \.Release\.Namespace \}\}\/coredog-webhook/,
  );
});

interface ScriptRun {
  code: number;
  lines: string[];
  pattern: string;
  dumpable: string;
}

async function runNodeSetup(
  env: Record<string, string>,
  initial = "|/usr/lib/systemd/systemd-coredump %P %u",
): Promise<ScriptRun> {
  const dir = await Deno.makeTempDir({ prefix: "coredog-procsys-" });
  try {
    await Deno.mkdir(`${dir}/kernel`);
    await Deno.mkdir(`${dir}/fs`);
    await Deno.writeTextFile(`${dir}/kernel/core_pattern`, `${initial}\n`);
    await Deno.writeTextFile(`${dir}/fs/suid_dumpable`, "0\n");
    const output = await new Deno.Command("sh", {
      args: [`${CHART_DIR}/files/node-setup.sh`],
      env: { COREDOG_PROC_SYS: dir, NODE_NAME: "node-7", ...env },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: output.code,
      lines: new TextDecoder().decode(output.stdout).trim().split("\n"),
      pattern: (await Deno.readTextFile(`${dir}/kernel/core_pattern`)).trim(),
      dumpable: (await Deno.readTextFile(`${dir}/fs/suid_dumpable`)).trim(),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the node-setup script sets core_pattern, logs the value it replaces, and refuses patterns CoreDog cannot use", async () => {
  const set = await runNodeSetup({ COREDOG_CORE_PATTERN: "/corefile/core.%e.%p.%h.%t" });
  assert.equal(set.code, 0);
  assert.equal(set.pattern, "/corefile/core.%e.%p.%h.%t");
  assert.equal(set.dumpable, "0", "fs.suid_dumpable left alone by default");
  assert.deepEqual(set.lines, [
    'level=info msg="kernel.core_pattern set" component=node-setup node="node-7" ' +
    'previous="|/usr/lib/systemd/systemd-coredump %P %u" value="/corefile/core.%e.%p.%h.%t"',
  ]);

  const again = await runNodeSetup(
    { COREDOG_CORE_PATTERN: "/corefile/core.%e.%p.%h.%t" },
    "/corefile/core.%e.%p.%h.%t",
  );
  assert.equal(again.code, 0);
  assert.match(again.lines[0], /msg="kernel.core_pattern already set"/);

  const both = await runNodeSetup({ COREDOG_CORE_PATTERN: "/corefile/core.%e", COREDOG_SUID_DUMPABLE: "1" });
  assert.equal(both.code, 0);
  assert.equal(both.dumpable, "1");
  assert.match(both.lines[1], /msg="fs.suid_dumpable set" .* previous="0" value="1"/);

  for (
    const [pattern, why] of [
      ["|/bin/cat", /CoreDog needs the kernel to write files to an absolute path/],
      ["core.%e", /CoreDog needs the kernel to write files to an absolute path/],
      ["", /COREDOG_CORE_PATTERN is empty/],
      [`/corefile/${"x".repeat(120)}`, /longer than 127 bytes/],
    ] as const
  ) {
    const refused = await runNodeSetup({ COREDOG_CORE_PATTERN: pattern });
    assert.equal(refused.code, 1, pattern);
    assert.match(refused.lines[0], /^level=error /);
    assert.match(refused.lines[0], why);
    assert.equal(refused.pattern, "|/usr/lib/systemd/systemd-coredump %P %u", "left as it was");
  }
  const badDumpable = await runNodeSetup({ COREDOG_CORE_PATTERN: "/corefile/core", COREDOG_SUID_DUMPABLE: "3" });
  assert.equal(badDumpable.code, 1);
});

const found = await findHelm();

Deno.test({
  name: found.path
    ? "helm lint and helm template, each rendered object validated against the Kubernetes schema"
    : `helm lint and helm template (skipped: ${found.reason})`,
  ignore: !found.path,
  async fn() {
    const run = async (args: string[]) => {
      const result = await helm(args);
      assert.equal(result.code, 0, `helm ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
      return result.stdout;
    };
    await run(["lint", "--strict", CHART_DIR]);
    const variants = [
      [],
      ["--set", "webhook.tls.mode=cert-manager"],
      ["--set", "nodeSetup.corePattern=/corefile/core.%e.%p.%h.%t", "--set", "nodeSetup.suidDumpable=1"],
      ["--set", "existingSecret=coredog-s3", "--set", "existingSecretAsFiles=true"],
      [
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "webhook.replicas=1",
        "--set",
        "webhook.matchConditions=false",
      ],
    ];
    const models = await import("./support/kube_models.ts");
    for (const variant of variants) {
      const rendered = await run(["template", "coredog", CHART_DIR, "-n", "coredog-system", ...variant]);
      const objects = parseAllDocuments(rendered).map((d) => d.toJS()).filter(Boolean);
      assert.ok(objects.length >= 10, variant.join(" "));
      for (const object of objects) await models.validateObject(object);
      const kinds = objects.map((o: { kind: string }) => o.kind);
      assert.equal(kinds.includes("PodDisruptionBudget"), !variant.includes("webhook.replicas=1"));
    }
  },
});
