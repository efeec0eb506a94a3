/**
 * The chart as the real `helm` renders it (tests/support/helm.ts finds or
 * fetches helm; without it these tests skip, saying why): `helm lint
 * --strict`, every rendered object validated against the Kubernetes
 * schema, and the parts that matter read from the rendered manifests:
 * names, labels, security contexts, probes, the webhook registration.
 * The node-setup script runs for real against a directory laid out like
 * /proc/sys.
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import { decideInjection } from "../src/core/injection_rules.ts";
import { SHUTDOWN_GRACE_MS } from "../src/watcher/main.ts";
import { CHART_DIR, findHelm, helm, objectOf, renderChart, type RenderedObject } from "./support/helm.ts";
import { validateObject } from "./support/kube_models.ts";

const found = await findHelm();

/** A test that needs helm: skipped, with the reason in its name, where there is none. */
function helmTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: found.path ? name : `${name} (skipped: ${found.reason})`, ignore: !found.path, fn });
}

function container(pod: RenderedObject, name: string): RenderedObject {
  const all = [...(pod.spec.template.spec.containers ?? []), ...(pod.spec.template.spec.initContainers ?? [])];
  const found = all.find((c: { name: string }) => c.name === name);
  assert.ok(found, `no container ${name} in ${pod.kind} ${pod.metadata.name}`);
  return found;
}

function envOf(c: RenderedObject): Record<string, RenderedObject> {
  return Object.fromEntries((c.env ?? []).map((e: { name: string }) => [e.name, e]));
}

helmTest("helm lint --strict is clean, and every object of every variant is valid for its kind", async () => {
  const lint = await helm(["lint", "--strict", CHART_DIR]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  assert.doesNotMatch(lint.stdout, /\[(WARNING|INFO)\]/, lint.stdout);
  const variants: string[][] = [
    [],
    ["webhook.tls.mode=cert-manager"],
    ["nodeSetup.corePattern=/corefile/core.%e.%p.%h.%t", "nodeSetup.suidDumpable=1"],
    ["existingSecret=coredog-s3", "existingSecretAsFiles=true", "config.coredog=StorageConfig: {S3Bucket: b}"],
    ["metrics.serviceMonitor.enabled=true", "webhook.replicas=1", "webhook.matchConditions=false"],
    ["namespace.create=true", "webhook.hostNetwork=true", "webhook.port=10250", "watcher.priorityClassName="],
  ];
  for (const set of variants) {
    const objects = await renderChart({ set });
    assert.ok(objects.length >= 10, set.join(" "));
    for (const object of objects) validateObject(object);
    const kinds = objects.map((o) => o.kind);
    assert.equal(kinds.includes("PodDisruptionBudget"), !set.includes("webhook.replicas=1"), set.join(" "));
  }
});

helmTest(
  "ConfigMap coredog holds config.coredog as written, under key coredog, as the seed's kubectl command expects",
  async () => {
    const text = "CorefileDir: /data/dumps\nStorageConfig:\n  S3Bucket: b # kept\n";
    const dir = await Deno.makeTempDir({ prefix: "coredog-values-" });
    try {
      await Deno.writeTextFile(`${dir}/values.yaml`, `config:\n  coredog: |\n${text.replace(/^/gm, "    ")}`);
      const configMap = objectOf(await renderChart({ valuesFiles: [`${dir}/values.yaml`] }), "ConfigMap", "coredog");
      assert.deepEqual(Object.keys(configMap.data), ["coredog"]);
      assert.equal(configMap.data.coredog, text, "byte for byte, comments included");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

helmTest(
  "the watcher DaemonSet: every node, root with three capabilities, probes, node facts, time to finish an upload",
  async () => {
    const objects = await renderChart();
    const ds = objectOf(objects, "DaemonSet", "coredog-watcher");
    const pod = ds.spec.template.spec;
    assert.equal(ds.spec.template.metadata.labels["app.kubernetes.io/component"], "watcher");
    assert.equal(ds.spec.selector.matchLabels["app.kubernetes.io/component"], "watcher");
    assert.deepEqual(pod.tolerations, [{ operator: "Exists" }]);
    const watcher = container(ds, "watcher");
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
    const env = envOf(watcher);
    assert.deepEqual(env.NODE_NAME.valueFrom, { fieldRef: { fieldPath: "spec.nodeName" } });
    assert.deepEqual(env.HOST_IP.valueFrom, { fieldRef: { fieldPath: "status.hostIP" } });
    assert.deepEqual(watcher.livenessProbe.httpGet, { path: "/healthz", port: "metrics" });
    assert.deepEqual(watcher.readinessProbe.httpGet, { path: "/readyz", port: "metrics" });
    assert.deepEqual(watcher.ports, [{ name: "metrics", containerPort: 9102, protocol: "TCP" }]);
    const dumps = pod.volumes.find((v: { name: string }) => v.name === "dumps");
    assert.deepEqual(dumps.hostPath, { path: "/data/coredog-system/dumps", type: "DirectoryOrCreate" });
    const mount = watcher.volumeMounts.find((m: { name: string }) => m.name === "dumps");
    assert.equal(mount.mountPath, "/data/coredog-system/dumps", "mounted at CorefileDir, the same path as on the node");
    assert.equal(pod.serviceAccountName, "coredog-watcher");
    assert.equal(pod.initContainers, undefined, "no node setup unless asked for");

    // The watcher waits SHUTDOWN_GRACE_MS for uploads after SIGTERM (tests/watcher_shutdown_test.ts); the kubelet
    // must wait longer before SIGKILL.
    assert.ok(
      pod.terminationGracePeriodSeconds * 1000 >= SHUTDOWN_GRACE_MS + 10_000,
      `${pod.terminationGracePeriodSeconds} s vs the watcher's ${SHUTDOWN_GRACE_MS} ms`,
    );

    // A CorefileDir of the configuration moves the hostPath and the mount together.
    const moved = objectOf(
      await renderChart({ set: ["config.coredog=CorefileDir: /var/cores\nStorageConfig: {S3Bucket: b}"] }),
      "DaemonSet",
      "coredog-watcher",
    );
    assert.equal(
      moved.spec.template.spec.volumes.find((v: { name: string }) => v.name === "dumps").hostPath.path,
      "/var/cores",
    );
    assert.equal(
      container(moved, "watcher").volumeMounts.find((m: { name: string }) => m.name === "dumps").mountPath,
      "/var/cores",
    );
  },
);

helmTest(
  "nodeSetup.corePattern adds the privileged node-setup init container running the chart's own script",
  async () => {
    const ds = objectOf(
      await renderChart({ set: ["nodeSetup.corePattern=/corefile/core.%e.%p.%h.%t", "nodeSetup.suidDumpable=2"] }),
      "DaemonSet",
      "coredog-watcher",
    );
    const init = container(ds, "node-setup");
    assert.deepEqual(init.securityContext, { privileged: true, runAsUser: 0 });
    assert.deepEqual(init.command, ["/bin/sh", "-c"]);
    assert.equal(init.args[0], await Deno.readTextFile(`${CHART_DIR}/files/node-setup.sh`));
    assert.equal(init.image, "docker.io/library/busybox:1.37.0");
    const env = envOf(init);
    assert.equal(env.COREDOG_CORE_PATTERN.value, "/corefile/core.%e.%p.%h.%t");
    assert.equal(env.COREDOG_SUID_DUMPABLE.value, "2", "--set gives a number; the script gets the string");
  },
);

helmTest(
  "the webhook Deployment: 2 replicas spread out, non-root, read-only, no capabilities, RuntimeDefault, probes",
  async () => {
    const objects = await renderChart();
    const deployment = objectOf(objects, "Deployment", "coredog-webhook");
    const pod = deployment.spec.template.spec;
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(deployment.spec.template.metadata.labels["app.kubernetes.io/component"], "webhook");
    assert.deepEqual(
      pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey,
      "kubernetes.io/hostname",
    );
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const webhook = container(deployment, "webhook");
    assert.deepEqual(webhook.command, ["/usr/local/bin/coredog-webhook"]);
    assert.deepEqual(webhook.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    assert.deepEqual(webhook.ports.map((p: { containerPort: number }) => p.containerPort), [8443, 9103]);
    assert.deepEqual(webhook.livenessProbe.httpGet, { path: "/healthz", port: "metrics" });
    assert.deepEqual(webhook.readinessProbe.httpGet, { path: "/readyz", port: "metrics" });
    // Self-managed TLS (the default): the certificate lives in the Secret and in memory, so no file and no volume.
    const env = envOf(webhook);
    assert.equal(env.COREDOG_WEBHOOK_TLS_MODE.value, "self-managed");
    assert.equal(env.COREDOG_WEBHOOK_TLS_SECRET.value, "coredog-webhook-tls");
    assert.equal(env.COREDOG_WEBHOOK_TLS_CERT, undefined);
    assert.deepEqual(pod.volumes.map((v: { name: string }) => v.name), ["config", "tmp"]);
    assert.equal(pod.automountServiceAccountToken, true, "self-managed TLS writes its Secret and the caBundle");

    // cert-manager: its Secret is mounted, the files are served, and the pod needs no API token.
    const certManager = objectOf(
      await renderChart({ set: ["webhook.tls.mode=cert-manager"] }),
      "Deployment",
      "coredog-webhook",
    );
    const tls = certManager.spec.template.spec.volumes.find((v: { name: string }) => v.name === "tls");
    assert.equal(tls.secret.secretName, "coredog-webhook-tls");
    const certEnv = envOf(container(certManager, "webhook"));
    assert.equal(certEnv.COREDOG_WEBHOOK_TLS_MODE.value, "files");
    assert.equal(certEnv.COREDOG_WEBHOOK_TLS_CERT.value, "/etc/coredog-webhook/tls/tls.crt");
    assert.equal(certManager.spec.template.spec.automountServiceAccountToken, false);

    const pdb = objectOf(objects, "PodDisruptionBudget", "coredog-webhook");
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
    const single = await renderChart({ set: ["webhook.replicas=1"] });
    assert.equal(single.some((o) => o.kind === "PodDisruptionBudget"), false, "one replica: a PDB would block drains");

    const service = objectOf(objects, "Service", "coredog-webhook");
    assert.deepEqual(service.spec.ports, [{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }]);
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  },
);

helmTest(
  "MutatingWebhookConfiguration coredog: pods on CREATE, opted-in pods only, system and Pod Security namespaces left out",
  async () => {
    const configuration = objectOf(await renderChart(), "MutatingWebhookConfiguration", "coredog");
    assert.equal(configuration.webhooks.length, 1);
    const webhook = configuration.webhooks[0];
    assert.deepEqual(webhook.admissionReviewVersions, ["v1"]);
    assert.equal(webhook.sideEffects, "None");
    assert.equal(webhook.failurePolicy, "Ignore");
    assert.equal(webhook.timeoutSeconds, 5);
    assert.deepEqual(webhook.rules, [{
      apiGroups: [""],
      apiVersions: ["v1"],
      operations: ["CREATE"],
      resources: ["pods"],
      scope: "Namespaced",
    }]);
    assert.deepEqual(webhook.clientConfig, {
      service: { name: "coredog-webhook", namespace: "coredog-system", path: "/mutate", port: 443 },
    });
    assert.deepEqual(webhook.namespaceSelector, {
      matchExpressions: [
        {
          key: "kubernetes.io/metadata.name",
          operator: "NotIn",
          values: ["kube-system", "kube-public", "kube-node-lease", "coredog-system"],
        },
        { key: "pod-security.kubernetes.io/enforce", operator: "NotIn", values: ["baseline", "restricted"] },
      ],
    });
    assert.equal(webhook.matchConditions[0].expression.includes("\n"), false, "one CEL expression");

    // The recorded object in tests/fixtures/kube (what the self-managed TLS tests patch) is this one.
    const recorded = JSON.parse(
      await Deno.readTextFile(new URL("./fixtures/kube/mutatingwebhookconfiguration_coredog.json", import.meta.url)),
    );
    assert.equal(recorded.webhooks[0].matchConditions[0].expression, webhook.matchConditions[0].expression);
    assert.deepEqual(recorded.webhooks[0].rules, webhook.rules);
  },
);

helmTest("the matchConditions expression selects exactly the pods the webhook itself injects", async () => {
  // This one expression, evaluated by hand, against the webhook's own rule (decideInjection).
  const injectionRequested = (annotations: Record<string, string>) => {
    const decision = decideInjection({ metadata: { annotations }, spec: { containers: [{ name: "app" }] } });
    return decision.inject || decision.reason !== "not-enabled";
  };
  const configuration = objectOf(await renderChart(), "MutatingWebhookConfiguration", "coredog");
  const expression: string = configuration.webhooks[0].matchConditions[0].expression;
  assert.equal(
    expression,
    "has(object.metadata.annotations) && 'coredog.io/inject' in object.metadata.annotations && " +
      "object.metadata.annotations['coredog.io/inject'].trim().matches('^(?i:true)( *, *coredog[.]io/(path|container)=(?s:.*))?$')",
  );
  const celLike = (annotations?: Record<string, string>) =>
    annotations !== undefined && "coredog.io/inject" in annotations &&
    /^[Tt][Rr][Uu][Ee]( *, *coredog\.io\/(path|container)=[\s\S]*)?$/.test(annotations["coredog.io/inject"].trim());
  const cases: (Record<string, string> | undefined)[] = [
    undefined,
    {},
    { "coredog.io/inject": "true" },
    { "coredog.io/inject": " True " },
    { "coredog.io/inject": "false" },
    { "coredog.io/inject": "yes" },
    { "coredog.io/path": "/corefile" },
    // What `kubectl run --annotations="coredog.io/inject=true,coredog.io/path=/corefile"` really stores.
    { "coredog.io/inject": "true,coredog.io/path=/corefile" },
    { "coredog.io/inject": "TRUE , coredog.io/path=/corefile,coredog.io/container=app,worker" },
    { "coredog.io/inject": "true,foo" },
    { "coredog.io/inject": "true,foo,coredog.io/path=/corefile" },
    { "coredog.io/inject": "false,coredog.io/path=/corefile" },
    { "coredog.io/inject": "true,coredog.io/injected=x" },
  ];
  for (const annotations of cases) {
    assert.equal(celLike(annotations), injectionRequested(annotations ?? {}), JSON.stringify(annotations));
  }
});

helmTest(
  "no key material in the chart: the self-managed Secret is rendered without data, cert-manager's not at all",
  async () => {
    const selfManaged = await renderChart();
    const secret = objectOf(selfManaged, "Secret", "coredog-webhook-tls");
    assert.equal(secret.type, "Opaque");
    assert.equal(secret.data, undefined, "the chart never sets data, so an upgrade leaves the webhook's alone");
    assert.equal(secret.stringData, undefined);
    const certManager = await renderChart({ set: ["webhook.tls.mode=cert-manager"] });
    for (const objects of [selfManaged, certManager]) {
      const text = JSON.stringify(objects);
      assert.doesNotMatch(text, /BEGIN (CERTIFICATE|PRIVATE KEY)|tls\.crt"?:|tls\.key"?:/);
    }
    assert.deepEqual(certManager.filter((o) => o.kind === "Secret"), [], "cert-manager creates and owns its Secrets");
    const serving = objectOf(certManager, "Certificate", "coredog-webhook");
    assert.equal(serving.spec.secretName, "coredog-webhook-tls");
    const ca = objectOf(certManager, "Certificate", "coredog-webhook-ca");
    for (const certificate of [serving, ca]) {
      // What the uninstall command's `kubectl delete secret -l` selects.
      assert.equal(certificate.spec.secretTemplate.labels["app.kubernetes.io/instance"], "coredog");
    }
    const configuration = objectOf(certManager, "MutatingWebhookConfiguration", "coredog");
    assert.equal(
      configuration.metadata.annotations["cert-manager.io/inject-ca-from"],
      "coredog-system/coredog-webhook",
    );
  },
);

helmTest("Chart.yaml: name, version, metadata, and the kubeVersion that helm enforces", async () => {
  const chart = parse(await Deno.readTextFile(`${CHART_DIR}/Chart.yaml`));
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(chart.apiVersion, "v2");
  assert.equal(chart.name, "coredog");
  assert.equal(chart.appVersion, denoJson.version);
  assert.match(chart.version, /^\d+\.\d+\.\d+$/);
  assert.match(chart.icon, /^https:\/\/.+\.svg$/);
  assert.deepEqual(chart.sources, [chart.home]);
  assert.ok(chart.maintainers[0].name);
  assert.equal(chart.kubeVersion, ">=1.27.0-0");
  const old = await helm(["template", "coredog", CHART_DIR, "--kube-version", "1.26.9"]);
  assert.notEqual(old.code, 0);
  assert.match(old.stderr, /chart requires kubeVersion: >=1\.27\.0-0 which is incompatible with Kubernetes v1\.26\.9/);
  const supported = await helm(["template", "coredog", CHART_DIR, "--kube-version", "1.27.0"]);
  assert.equal(supported.code, 0, supported.stderr);
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
