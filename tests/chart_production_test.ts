/**
 * The chart's options for production clusters (issue 11), as the real
 * `helm` renders them: Pod Security, priority and its ResourceQuota,
 * cloud identity, the webhook's network, credentials kept from the
 * webhook, version gating, selectors, the values schema, NOTES.txt.
 * What only a real API server can show (admission, upgrades, a second
 * webhook) is in the cluster tier; without helm these tests skip, saying why.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../src/core/config.ts";
import { CHART_DIR, findHelm, helm, objectOf, renderChart, type RenderedObject, templateArgs } from "./support/helm.ts";

const found = await findHelm();

function helmTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: found.path ? name : `${name} (skipped: ${found.reason})`, ignore: !found.path, fn });
}

/** helm template's stderr for `set`, which must fail. */
async function refused(set: string[], more: { setString?: string[]; setLiteral?: string[] } = {}): Promise<string> {
  const result = await helm(templateArgs({ set, ...more }));
  assert.notEqual(result.code, 0, `helm template ${set.join(" ")} should fail`);
  return result.stderr;
}

function podSpec(objects: RenderedObject[], kind: string, name: string): RenderedObject {
  return objectOf(objects, kind, name).spec.template.spec;
}

helmTest(
  "namespace.create renders the release namespace at the privileged Pod Security level, kept on uninstall",
  async () => {
    assert.equal((await renderChart()).some((o) => o.kind === "Namespace"), false, "off by default");
    const objects = await renderChart({ set: ["namespace.create=true", "namespace.labels.team=sre"] });
    const namespace = objectOf(objects, "Namespace", "coredog-system");
    for (const mode of ["enforce", "audit", "warn"]) {
      assert.equal(namespace.metadata.labels[`pod-security.kubernetes.io/${mode}`], "privileged", mode);
    }
    assert.equal(namespace.metadata.labels.team, "sre");
    assert.equal(namespace.metadata.annotations["helm.sh/resource-policy"], "keep");
  },
);

helmTest("the watcher runs at system-node-critical with the ResourceQuota GKE needs outside kube-system", async () => {
  const objects = await renderChart();
  assert.equal(podSpec(objects, "DaemonSet", "coredog-watcher").priorityClassName, "system-node-critical");
  const quota = objectOf(objects, "ResourceQuota", "coredog-critical-pods");
  assert.deepEqual(quota.spec.scopeSelector.matchExpressions, [
    { scopeName: "PriorityClass", operator: "In", values: ["system-node-critical"] },
  ]);
  assert.equal(quota.spec.hard.pods, "10k");

  const both = await renderChart({ set: ["webhook.priorityClassName=system-cluster-critical"] });
  assert.deepEqual(
    objectOf(both, "ResourceQuota", "coredog-critical-pods").spec.scopeSelector.matchExpressions[0].values,
    [
      "system-node-critical",
      "system-cluster-critical",
    ],
  );
  for (
    const options of [
      { set: ["watcher.priorityClassName="] },
      { set: ["watcher.priorityClassName=my-high"] },
      { set: ["priorityResourceQuota.enabled=false"] },
      { namespace: "kube-system" },
    ]
  ) {
    assert.equal((await renderChart(options)).some((o) => o.kind === "ResourceQuota"), false, JSON.stringify(options));
  }
  const custom = await renderChart({ set: ["watcher.priorityClassName=my-high"] });
  assert.equal(podSpec(custom, "DaemonSet", "coredog-watcher").priorityClassName, "my-high");
});

helmTest("serviceAccount annotations and pod labels reach both roles, for IRSA and Workload Identity", async () => {
  const objects = await renderChart({
    set: [
      "watcher.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::111122223333:role/coredog",
      "webhook.serviceAccount.annotations.iam\\.gke\\.io/gcp-service-account=coredog@p.iam.gserviceaccount.com",
    ],
    setString: ["watcher.podLabels.azure\\.workload\\.identity/use=true", "webhook.podLabels.team=sre"],
  });
  assert.equal(
    objectOf(objects, "ServiceAccount", "coredog-watcher").metadata.annotations["eks.amazonaws.com/role-arn"],
    "arn:aws:iam::111122223333:role/coredog",
  );
  assert.equal(
    objectOf(objects, "ServiceAccount", "coredog-webhook").metadata.annotations["iam.gke.io/gcp-service-account"],
    "coredog@p.iam.gserviceaccount.com",
  );
  const watcher = objectOf(objects, "DaemonSet", "coredog-watcher");
  assert.equal(watcher.spec.template.metadata.labels["azure.workload.identity/use"], "true");
  assert.equal(watcher.spec.template.metadata.labels["app.kubernetes.io/component"], "watcher");
  const webhook = objectOf(objects, "Deployment", "coredog-webhook");
  assert.equal(webhook.spec.template.metadata.labels.team, "sre");
  // The selector labels cannot be overridden: the DaemonSet would stop owning its pods.
  const stderr = await refused([], { setString: ["watcher.podLabels.app\\.kubernetes\\.io/component=other"] });
  assert.match(stderr, /invalid propertyName 'app\.kubernetes\.io\/component'/);
});

helmTest(
  "webhook.port and webhook.hostNetwork: the container, the probes, the Service and the node's network",
  async () => {
    const objects = await renderChart({
      set: ["webhook.port=10250", "webhook.healthPort=10251", "webhook.hostNetwork=true"],
    });
    const pod = podSpec(objects, "Deployment", "coredog-webhook");
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet", "Service names still resolve on the node's network");
    const webhook = pod.containers[0];
    assert.deepEqual(webhook.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]), [
      ["https", 10250],
      ["metrics", 10251],
    ]);
    const env = Object.fromEntries(webhook.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.equal(env.COREDOG_WEBHOOK_PORT, "10250", "the process listens where the container port says");
    assert.equal(env.COREDOG_WEBHOOK_HEALTH_PORT, "10251");
    const service = objectOf(objects, "Service", "coredog-webhook");
    assert.equal(service.spec.ports[0].targetPort, "https", "the Service follows the named port");
    assert.equal(
      objectOf(objects, "Deployment", "coredog-webhook").spec.template.metadata.annotations["prometheus.io/port"],
      "10251",
    );
    const defaults = podSpec(await renderChart(), "Deployment", "coredog-webhook");
    assert.equal(defaults.hostNetwork, undefined);
    assert.match(await refused(["webhook.port=443"]), /webhook\/port/, "a non-root process cannot bind below 1024");
  },
);

helmTest(
  "the webhook reads a configuration without the S3 credentials, and mounts no Secret of the user's",
  async () => {
    const config = [
      "CorefileDir: /var/cores",
      "StorageConfig:",
      '  s3AccesskeyID: "AKIDSECRETVALUE"',
      '  s3SecretAccessKey: "SECRETKEYVALUE"',
      '  S3Bucket: "b"',
      "NoticeChannel:",
      '  - {chan: wechat, webhookurl: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=CHATKEY"}',
    ].join("\n");
    const objects = await renderChart({ setLiteral: [`config.coredog=${config}`] });
    const pod = podSpec(objects, "Deployment", "coredog-webhook");
    const configVolume = pod.volumes.find((v: RenderedObject) => v.name === "config");
    assert.equal(configVolume.configMap.name, "coredog-webhook");
    const webhookConfig = objectOf(objects, "ConfigMap", "coredog-webhook").data.coredog;
    for (const secret of ["AKIDSECRETVALUE", "SECRETKEYVALUE", "CHATKEY"]) {
      assert.equal(JSON.stringify(pod).includes(secret), false, secret);
      assert.equal(webhookConfig.includes(secret), false, secret);
    }
    assert.equal(objectOf(objects, "ConfigMap", "coredog").data.coredog, config, "the watcher's is as written");
    // The webhook's real parser accepts its copy and finds the same CorefileDir as the watcher.
    assert.equal(parseConfig(webhookConfig, { source: "coredog-webhook" }).corefileDir, "/var/cores");
    assert.equal(parseConfig(config, { source: "coredog" }).corefileDir, "/var/cores");

    const withSecret = await renderChart({
      set: ["existingSecret=coredog-s3", "config.coredog=StorageConfig: {S3Bucket: b}"],
    });
    const webhookPod = JSON.stringify(podSpec(withSecret, "Deployment", "coredog-webhook"));
    assert.equal(webhookPod.includes("coredog-s3"), false, "the Secret reaches only the watcher");
    assert.ok(JSON.stringify(podSpec(withSecret, "DaemonSet", "coredog-watcher")).includes("coredog-s3"));
  },
);

helmTest("credentials both in config.coredog and in existingSecret stop helm template with the fix", async () => {
  // The default config.coredog has placeholder keys in it, as a first install would.
  const stderr = await refused(["existingSecret=coredog-s3"]);
  assert.match(
    stderr,
    /the S3 credentials are set twice: existingSecret=coredog-s3 and StorageConfig\.s3AccesskeyID and StorageConfig\.s3SecretAccessKey in config\.coredog\. Keep one source: delete/,
  );
  const one = await refused(["existingSecret=coredog-s3"], {
    setLiteral: ["config.coredog=StorageConfig: {S3Bucket: b, s3SecretAccessKey: x}"],
  });
  assert.match(one, /existingSecret=coredog-s3 and StorageConfig\.s3SecretAccessKey in config\.coredog/);
  // Empty keys are no credentials: that is how values.yaml says to switch to the Secret.
  await renderChart({
    set: ["existingSecret=coredog-s3"],
    setLiteral: ['config.coredog=StorageConfig: {S3Bucket: b, s3AccesskeyID: "", s3SecretAccessKey: ""}'],
  });
});

helmTest(
  "matchConditions are rendered for Kubernetes 1.28 and later only; the rest of the configuration is the same",
  async () => {
    const webhookOf = async (kubeVersion: string) =>
      objectOf(await renderChart({ kubeVersion }), "MutatingWebhookConfiguration", "coredog").webhooks[0];
    const old = await webhookOf("1.27.0");
    const beta = await webhookOf("1.28.0");
    const ga = await webhookOf("1.30.0");
    assert.equal(old.matchConditions, undefined);
    assert.equal(beta.matchConditions.length, 1);
    assert.deepEqual(ga.matchConditions, beta.matchConditions);
    const { matchConditions: _, ...rest } = ga;
    assert.deepEqual(old, rest);
    const off = objectOf(
      await renderChart({ set: ["webhook.matchConditions=false"] }),
      "MutatingWebhookConfiguration",
      "coredog",
    );
    assert.equal(off.webhooks[0].matchConditions, undefined);
  },
);

helmTest(
  "namespaceSelector and objectSelector are added to the built-in exclusions; reinvocation is Never unless asked",
  async () => {
    const objects = await renderChart({
      set: [
        "webhook.namespaceSelector.matchExpressions[0].key=tier",
        "webhook.namespaceSelector.matchExpressions[0].operator=NotIn",
        "webhook.namespaceSelector.matchExpressions[0].values[0]=batch",
        "webhook.reinvocationPolicy=IfNeeded",
      ],
      setString: [
        "webhook.namespaceSelector.matchLabels.coredog\\.io/enabled=true",
        "webhook.objectSelector.matchLabels.coredog\\.io/inject=true",
      ],
    });
    const webhook = objectOf(objects, "MutatingWebhookConfiguration", "coredog").webhooks[0];
    assert.deepEqual(webhook.namespaceSelector.matchLabels, { "coredog.io/enabled": "true" });
    const keys = webhook.namespaceSelector.matchExpressions.map((e: { key: string }) => e.key);
    assert.deepEqual(keys, ["kubernetes.io/metadata.name", "pod-security.kubernetes.io/enforce", "tier"]);
    assert.deepEqual(webhook.objectSelector, { matchLabels: { "coredog.io/inject": "true" } });
    assert.equal(webhook.reinvocationPolicy, "IfNeeded");

    const defaults = objectOf(await renderChart(), "MutatingWebhookConfiguration", "coredog").webhooks[0];
    assert.equal(defaults.reinvocationPolicy, "Never", "a sidecar added after CoreDog gets no dump directory");
    assert.equal(defaults.objectSelector, undefined);
    assert.equal(defaults.namespaceSelector.matchLabels, undefined);
    assert.match(
      await refused([
        "webhook.objectSelector.matchExpressions[0].key=a",
        "webhook.objectSelector.matchExpressions[0].operator=Has",
      ]),
      /objectSelector/,
    );
  },
);

helmTest("the values schema refuses typos in shaped objects, and accepts what Kubernetes accepts", async () => {
  const wrong: [string[], RegExp][] = [
    [["watcher.tolerations[0].operator=exists"], /watcher\/tolerations\/0\/operator/],
    [["watcher.tolerations[0].effect=NoSchedul"], /watcher\/tolerations\/0\/effect/],
    [["watcher.tolerations[0].tolerationSecond=5"], /watcher\/tolerations\/0/],
    [["webhook.affinity.podAntiAfinity.x=1"], /webhook\/affinity/],
    [["watcher.updateStrategy.type=Rolling"], /watcher\/updateStrategy\/type/],
    [
      ["watcher.updateStrategy.rollingUpdate.maxUnavailable=10 percent"],
      /watcher\/updateStrategy\/rollingUpdate\/maxUnavailable/,
    ],
    [["webhook.podDisruptionBudget.minAvailable=50 %"], /webhook\/podDisruptionBudget\/minAvailable/],
    [["webhook.podDisruptionBudget.minAvaliable=1"], /webhook\/podDisruptionBudget/],
    [["nodeSetup.suidDumpable=3"], /nodeSetup\/suidDumpable/],
    [["existingSecret=My_Secret"], /existingSecret/],
    [["nodeSetup.image.digest=latest"], /nodeSetup\/image\/digest/],
    [["webhook.reinvocationPolicy=Always"], /webhook\/reinvocationPolicy/],
  ];
  for (const [set, expected] of wrong) assert.match(await refused(set), expected, set.join(" "));

  const right = [
    ["nodeSetup.corePattern=/corefile/core.%e", "nodeSetup.suidDumpable=2"],
    ["existingSecret=coredog.s3-credentials", "config.coredog=StorageConfig: {S3Bucket: b}"],
    ["watcher.updateStrategy.rollingUpdate.maxUnavailable=10%"],
    ["webhook.podDisruptionBudget.minAvailable=50%"],
    ["webhook.podDisruptionBudget.maxUnavailable=1"],
  ];
  for (const set of right) await renderChart({ set });
  const dotted = await renderChart({ set: right[1] });
  const env = podSpec(dotted, "DaemonSet", "coredog-watcher").containers[0].env;
  assert.equal(
    env.find((e: { name: string }) => e.name === "COREDOG_S3_ACCESS_KEY_ID").valueFrom.secretKeyRef.name,
    "coredog.s3-credentials",
  );
  const pdb = objectOf(await renderChart({ set: right[4] }), "PodDisruptionBudget", "coredog-webhook");
  assert.deepEqual([pdb.spec.maxUnavailable, pdb.spec.minAvailable], [1, undefined], "maxUnavailable wins");
  const dumpable = podSpec(await renderChart({ set: right[0] }), "DaemonSet", "coredog-watcher").initContainers[0];
  assert.equal(dumpable.env.find((e: { name: string }) => e.name === "COREDOG_SUID_DUMPABLE").value, "2");
});

helmTest("suidDumpable without corePattern stops helm template, saying what to set", async () => {
  const stderr = await refused(["nodeSetup.suidDumpable=2"]);
  assert.match(
    stderr,
    /nodeSetup\.suidDumpable=2 needs nodeSetup\.corePattern: the node-setup init container sets both/,
  );
  assert.match(stderr, /nodeSetup\.corePattern=\/corefile\/core\.%e\.%p\.%h\.%t/);
});

helmTest("image digests pin the CoreDog and node-setup images", async () => {
  const digest = `sha256:${"a1".repeat(32)}`;
  const objects = await renderChart({
    set: [`image.digest=${digest}`, `nodeSetup.image.digest=${digest}`, "nodeSetup.corePattern=/corefile/core"],
  });
  const pod = podSpec(objects, "DaemonSet", "coredog-watcher");
  assert.equal(pod.containers[0].image, `ghcr.io/coredog/coredog:0.1.0@${digest}`);
  assert.equal(pod.initContainers[0].image, `docker.io/library/busybox:1.37.0@${digest}`);
  assert.equal(
    podSpec(objects, "Deployment", "coredog-webhook").containers[0].image,
    `ghcr.io/coredog/coredog:0.1.0@${digest}`,
  );
});

helmTest(
  "NOTES.txt: no log follow over a selector, the Pod Security label command, uninstall with --ignore-not-found",
  async () => {
    const notesOf = async (set: string[]) => {
      const args = ["install", "coredog", CHART_DIR, "-n", "coredog-system", "--dry-run=client"];
      for (const assignment of set) args.push("--set", assignment);
      const result = await helm(args);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.slice(result.stdout.indexOf("NOTES:"));
    };
    const notes = await notesOf([]);
    assert.ok(notes.length > 200, notes);
    for (const line of notes.split("\n").filter((l) => /kubectl logs/.test(l))) {
      // kubectl refuses -f over a selector that matches more than 5 pods (--max-log-requests).
      assert.ok(!(/ -f\b|--follow/.test(line) && / -l /.test(line)), line);
    }
    assert.match(
      notes,
      /kubectl label namespace coredog-system pod-security\.kubernetes\.io\/enforce=privileged --overwrite/,
    );
    assert.match(notes, /helm uninstall coredog -n coredog-system/);
    const certManager = await notesOf(["webhook.tls.mode=cert-manager", "namespace.create=true"]);
    assert.match(
      certManager,
      /kubectl delete secret -n coredog-system -l app\.kubernetes\.io\/instance=coredog --ignore-not-found/,
    );
    assert.match(certManager, /kubectl delete namespace coredog-system --ignore-not-found/);
    assert.doesNotMatch(certManager, /kubectl label namespace/, "the chart labelled it");
  },
);
