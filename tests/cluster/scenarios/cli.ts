/**
 * The `coredog` command on the real control plane and the real MinIO
 * (issue 16). The real watcher, authenticated as a ServiceAccount that may
 * read pods, stores real cores of pods the API server holds; then `coredog`
 * runs as a process with the `cli` task's permissions: `list` and `info`
 * read the metadata from MinIO, `get` restores a core byte for byte (and
 * refuses an object that no longer matches its metadata), `--from-cluster`
 * reads ConfigMap `coredog` and Secret `coredog-s3` with only the RBAC the
 * docs name,
 * `debug` creates the debug pod on the real kube-apiserver as an on-call
 * ServiceAccount that may only create and delete pods (the stored object
 * is asserted; there is no kubelet, so it stays Pending), the init
 * container's `coredog fetch` runs here as a local process on the presigned
 * link from the stored spec, `--delete` removes the pod, and the real
 * PodSecurity admission plugin decides about the debug pod in namespaces
 * that enforce `baseline` and `restricted`.
 *
 * No kubelet means no `status.containerStatuses`, so no `imageID`. Two
 * pods cover the two ways the digest reaches the metadata: `api-0` names
 * its image by digest in its spec (the watcher records it as
 * `container.image`), and `web-0` names a tag and gets the `imageID` a
 * kubelet on containerd would report, patched into its status subresource
 * by the tier's admin (as the kubelet writes it).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import zlib from "node:zlib";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { cliProcess, type CliResult } from "../../support/cli_run.ts";
import { makeRealCore } from "../../support/real_core.ts";
import { freePort } from "../../support/s3_server.ts";
import { type Json, NODE_NAME, registerNode, waitForNamespace } from "../support/chart.ts";
import { roleLog, type RoleProcess, startWatcherRole, waitForRoleLine } from "../support/coredog_roles.ts";
import { eventually, getObject, kubectl, kubectlResult, scenarioDir, serviceAccountIdentity } from "../support/kube.ts";
import { minioClient } from "../support/minio_client.ts";
import { loadTier } from "../support/tier_env.ts";

const BUCKET = "cli";
const SYSTEM = "cli-system";
const SHOP = "cli-shop";
const BASELINE = "cli-baseline";
const RESTRICTED = "cli-restricted";
const NAMESPACES = [SHOP, BASELINE, RESTRICTED, SYSTEM];
const WATCHER_ROLE = "cli-scenario-watcher";
const APP_DIGEST = `sha256:${"a1".repeat(32)}`;
const APP_IMAGE = `registry.example/app@${APP_DIGEST}`;
const WEB_IMAGE_ID = `registry.example/web@sha256:${"b2".repeat(32)}`;

interface StoredCrash {
  namespace: string;
  pod: string;
  container: string;
  /** The core file as the kernel wrote it. */
  bytes: Uint8Array;
  /** Its metadata as `list -o json` shows it. */
  record: Json;
}

interface Setup {
  dir: string;
  configPath: string;
  env: Record<string, string>;
  /** The on-call identity: may create and delete pods in the app namespaces, nothing else. */
  oncallKubeconfig: string;
  /** In the order they crashed. */
  crashes: StoredCrash[];
  watcher: RoleProcess;
}

let setup: Promise<Setup> | undefined;

function prepare(): Promise<Setup> {
  setup ??= prepareOnce();
  return setup;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function apply(object: Json): Promise<void> {
  await kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(object) });
}

/** A pod bound to the registered Node (no scheduler), with the given containers. */
function podObject(namespace: string, name: string, containers: Json[], extra: Json = {}): Json {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { app: name } },
    spec: { nodeName: NODE_NAME, ...extra, containers },
  };
}

/** What the restricted level asks of every container. */
const RESTRICTED_CONTAINER = {
  securityContext: {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    runAsNonRoot: true,
    runAsUser: 1000,
    seccompProfile: { type: "RuntimeDefault" },
  },
};

async function prepareOnce(): Promise<Setup> {
  const tier = loadTier();
  const dir = await scenarioDir("cli");
  const s3 = minioClient();
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  } catch (error) {
    if ((error as Error).name !== "BucketAlreadyOwnedByYou") throw error;
  }
  // The pod garbage collector deletes pods bound to a Node that does not exist.
  await registerNode();
  for (const namespace of NAMESPACES) await kubectl(["create", "namespace", namespace]);
  await kubectl(["label", "namespace", BASELINE, "pod-security.kubernetes.io/enforce=baseline"]);
  await kubectl(["label", "namespace", RESTRICTED, "pod-security.kubernetes.io/enforce=restricted"]);
  for (const namespace of NAMESPACES) await waitForNamespace(namespace);

  // The watcher's identity: what the chart's watcher ClusterRole grants.
  await kubectl(["create", "serviceaccount", "watcher", "-n", SYSTEM]);
  await apply({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: WATCHER_ROLE },
    rules: [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
    ],
  });
  await kubectl([
    "create",
    "clusterrolebinding",
    WATCHER_ROLE,
    `--clusterrole=${WATCHER_ROLE}`,
    `--serviceaccount=${SYSTEM}:watcher`,
  ]);
  const watcherIdentity = await serviceAccountIdentity(join(dir, "watcher"), SYSTEM, "watcher");
  // The on-call engineer's identity for `debug`: create and delete pods in the crashes' namespaces, no more.
  await kubectl(["create", "serviceaccount", "oncall", "-n", SYSTEM]);
  for (const namespace of [SHOP, BASELINE, RESTRICTED]) {
    await kubectl(["create", "role", "debug-pods", "-n", namespace, "--verb=create,delete", "--resource=pods"]);
    await kubectl([
      "create",
      "rolebinding",
      "debug-pods",
      "-n",
      namespace,
      "--role=debug-pods",
      `--serviceaccount=${SYSTEM}:oncall`,
    ]);
  }
  const oncall = await serviceAccountIdentity(join(dir, "oncall"), SYSTEM, "oncall");

  await apply(podObject(SHOP, "api-0", [{ name: "app", image: APP_IMAGE }, { name: "sidecar", image: APP_IMAGE }]));
  await apply(podObject(SHOP, "web-0", [{ name: "web", image: "registry.example/web:1.4.2" }]));
  // What a kubelet on containerd writes once the container runs: the tag as image, the repository digest as imageID.
  await kubectl([
    "patch",
    "pod",
    "web-0",
    "-n",
    SHOP,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({
      status: {
        phase: "Running",
        containerStatuses: [{
          name: "web",
          image: "registry.example/web:1.4.2",
          imageID: WEB_IMAGE_ID,
          ready: true,
          restartCount: 1,
          started: true,
          state: { running: { startedAt: new Date().toISOString() } },
        }],
      },
    }),
  ]);
  await apply(podObject(BASELINE, "batch-0", [{ name: "app", image: APP_IMAGE }]));
  await apply(
    podObject(RESTRICTED, "locked-0", [{ name: "app", image: APP_IMAGE, ...RESTRICTED_CONTAINER }], {
      securityContext: { runAsNonRoot: true },
    }),
  );

  const corefileDir = join(dir, "dumps");
  const storage = ["s3Region: us-east-1", `S3Bucket: ${BUCKET}`, `S3Endpoint: ${tier.minio.endpoint}`];
  const env = {
    COREDOG_S3_ACCESS_KEY_ID: tier.minio.accessKeyId,
    COREDOG_S3_SECRET_ACCESS_KEY: tier.minio.secretAccessKey,
  };
  const watcher = await startWatcherRole({
    dir,
    kubeconfig: watcherIdentity.kubeconfig,
    corefileDir,
    healthPort: freePort(),
    storage,
    nodeName: NODE_NAME,
    env,
  });
  await waitForRoleLine(watcher, /initial scan complete/);
  await waitForRoleLine(watcher, /pod cache synced/);
  // The CLI reads the watcher's own configuration file.
  const configPath = join(dir, "watcher.yaml");

  const crashes: StoredCrash[] = [];
  const places: [string, string, string][] = [
    [SHOP, "api-0", "app"],
    [SHOP, "web-0", "web"],
    [SHOP, "api-0", "sidecar"],
    [BASELINE, "batch-0", "app"],
    [RESTRICTED, "locked-0", "app"],
  ];
  for (const [namespace, pod, container] of places) {
    const core = await makeRealCore(join(corefileDir, namespace, pod, container));
    const bytes = await Deno.readFile(core);
    // One at a time, so that the crash times are in this order.
    const record = await eventually(`the metadata of ${namespace}/${pod}/${container}`, async () => {
      const listed = await cli(
        { configPath, env },
        ["list", "-n", namespace, "--pod", pod, "--container", container, "-o", "json"],
      );
      const records = JSON.parse(listed.stdout) as Json[];
      return records.length === 1 ? records[0] : undefined;
    }, 60_000).catch((error) => {
      throw new Error(`${error.message}\n${roleLog(watcher)}`);
    });
    crashes.push({ namespace, pod, container, bytes, record });
  }
  return { dir, configPath, env, oncallKubeconfig: oncall.kubeconfig, crashes, watcher };
}

/** `coredog args --config <the watcher's file>` as a process with the cli task's permissions. */
function cli(s: Pick<Setup, "configPath" | "env">, args: string[]): Promise<CliResult> {
  return cliProcess([...args, "--config", s.configPath], { ...s.env, KUBECONFIG: "" });
}

function crashOf(s: Setup, namespace: string, pod: string, container: string): StoredCrash {
  return s.crashes.find((c) => c.namespace === namespace && c.pod === pod && c.container === container)!;
}

Deno.test("coredog list and info read the real watcher's metadata from MinIO, newest first, with the pods' facts", async () => {
  const s = await prepare();
  const table = await cli(s, ["list"]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split("\n").filter(Boolean);
  assert.match(lines[0], /^TIME\s+NAMESPACE\/POD\s+CONTAINER\s+SIGNAL\s+EXE\s+SIZE\s+ID/);
  const rows = lines.slice(1).map((line) => line.split(/\s{3,}/));
  const newestFirst = [...s.crashes].reverse();
  assert.deepEqual(
    rows.map((row) => [row[1], row[2]]),
    newestFirst.map((c) => [`${c.namespace}/${c.pod}`, c.container]),
    table.stdout,
  );
  for (const [i, row] of rows.entries()) {
    assert.equal(row[3], "SIGSEGV", table.stdout);
    assert.equal(row[6], newestFirst[i].record.id.slice(0, 12));
  }

  const json = await cli(s, ["list", "-o", "json"]);
  assert.equal(json.code, 0, json.stderr);
  const records = JSON.parse(json.stdout) as Json[];
  assert.deepEqual(records.map((r) => r.id), newestFirst.map((c) => c.record.id));
  const times = records.map((r) => Date.parse(r.crashedAt));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first by crash time");
  for (const record of records) {
    assert.match(record.metadataKey, new RegExp(`^corefiles/${record.pod.namespace}/${record.pod.name}/`));
    assert.equal(record.storage.bucket, BUCKET);
  }

  const api = await getObject(["pod", "api-0", "-n", SHOP]) as Json;
  const app = crashOf(s, SHOP, "api-0", "app").record;
  assert.equal(app.pod.uid, api.metadata.uid, "the pod read from the real API");
  assert.equal(app.pod.node, NODE_NAME);
  assert.equal(app.container.image, APP_IMAGE, "the spec's image, by digest");
  assert.equal(app.container.imageID, undefined, "no kubelet, no status: no imageID");
  const web = crashOf(s, SHOP, "web-0", "web").record;
  assert.equal(web.container.image, "registry.example/web:1.4.2");
  assert.equal(web.container.imageID, WEB_IMAGE_ID, "the imageID of the status subresource");
  assert.equal(web.container.restartCount, 1);

  const filtered = await cli(s, ["list", "-n", SHOP, "--pod", "api-0", "-o", "json"]);
  assert.deepEqual(
    (JSON.parse(filtered.stdout) as Json[]).map((r) => r.container.name),
    ["sidecar", "app"],
  );

  const info = await cli(s, ["info", web.id.slice(0, 12)]);
  assert.equal(info.code, 0, info.stderr);
  const field = (label: string) => info.stdout.match(new RegExp(`^\\s*${label}: (.*)$`, "m"))?.[1];
  assert.equal(field("Pod"), "web-0", info.stdout);
  assert.equal(field("Namespace"), SHOP);
  assert.equal(field("Pod UID"), (await getObject(["pod", "web-0", "-n", SHOP]) as Json).metadata.uid);
  assert.equal(field("Image ID"), WEB_IMAGE_ID);
  assert.equal(field("SHA-256"), sha256(crashOf(s, SHOP, "web-0", "web").bytes));
  assert.equal(field("Storage"), `s3 bucket ${BUCKET}`);
  const infoJson = await cli(s, ["info", web.id.slice(0, 12), "-o", "json"]);
  assert.equal(JSON.parse(infoJson.stdout).id, web.id);
});

Deno.test("coredog get restores a real core from MinIO byte for byte and refuses an object that does not match its metadata", async () => {
  const s = await prepare();
  for (const crash of [crashOf(s, SHOP, "api-0", "app"), crashOf(s, SHOP, "web-0", "web")]) {
    const out = join(s.dir, `${crash.pod}-${crash.container}.core`);
    const got = await cli(s, ["get", crash.record.id.slice(0, 12), "-o", out]);
    assert.equal(got.code, 0, got.stderr);
    const restored = await Deno.readFile(out);
    assert.equal(restored.length, crash.bytes.length);
    assert.equal(sha256(restored), sha256(crash.bytes));
  }

  // A stored object that no longer matches its metadata: valid zstd of other bytes.
  const damaged = crashOf(s, SHOP, "api-0", "sidecar");
  const other = new Uint8Array(damaged.bytes);
  other[other.length >> 1] ^= 0xff;
  await minioClient().send(
    new PutObjectCommand({ Bucket: BUCKET, Key: damaged.record.storage.key, Body: zlib.zstdCompressSync(other) }),
  );
  const out = join(s.dir, "damaged.core");
  const refused = await cli(s, ["get", damaged.record.id.slice(0, 12), "-o", out, "--no-cache"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /SHA-256 mismatch/);
  assert.deepEqual([...Deno.readDirSync(s.dir)].filter((e) => e.name.includes("damaged")), [], "no file left");
});

/** `coredog debug` as the on-call ServiceAccount. */
function debug(s: Setup, id: string, extra: string[] = []): Promise<CliResult> {
  return cli(s, ["debug", id, "--kubeconfig", s.oncallKubeconfig, ...extra]);
}

Deno.test("coredog debug creates the debug pod on the real API server; its fetch step restores the core; --delete removes it", async () => {
  const s = await prepare();
  for (
    const [crash, image] of [
      [crashOf(s, SHOP, "api-0", "app"), APP_IMAGE],
      [crashOf(s, SHOP, "web-0", "web"), WEB_IMAGE_ID],
    ] as const
  ) {
    const id = crash.record.id.slice(0, 12);
    const name = `coredog-debug-${id}`;
    const created = await debug(s, id);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, new RegExp(`pod ${SHOP}/${name} created`));
    assert.match(
      created.stdout,
      new RegExp(`^kubectl --kubeconfig \\S+ exec -it -n ${SHOP} ${name} -c debugger -- sh -c '.*gdb`),
    );

    // The object as the API server stored it (defaults filled in, validation passed).
    const pod = await getObject(["pod", name, "-n", SHOP]) as Json;
    assert.ok(pod, `pod ${name} stored`);
    assert.equal(pod.status.phase, "Pending", "no kubelet");
    assert.equal(pod.metadata.labels["coredog.io/core-id"], crash.record.id);
    assert.equal(pod.spec.shareProcessNamespace, true);
    const containers = Object.fromEntries((pod.spec.containers as Json[]).map((c) => [c.name, c]));
    assert.deepEqual(Object.keys(containers), ["app", "debugger"]);
    assert.equal(containers.app.image, image, "the crashed image by digest");
    assert.equal(containers.debugger.securityContext.capabilities.add[0], "SYS_PTRACE");
    const [init] = pod.spec.initContainers as Json[];
    assert.equal(init.name, "fetch-core");
    const volume = (pod.spec.volumes as Json[]).find((v) => v.name === "cores")!;
    assert.ok(volume.emptyDir, JSON.stringify(pod.spec.volumes));
    for (const container of [init, containers.debugger]) {
      assert.ok(
        (container.volumeMounts as Json[]).some((m) => m.name === "cores" && m.mountPath === "/cores"),
        `${container.name} mounts the shared emptyDir`,
      );
    }
    const url = (init.command as string[]).find((word) => word.startsWith("http"))!;
    assert.equal(new URL(url).origin, new URL(loadTier().minio.endpoint).origin);
    assert.match(url, new RegExp(`/${BUCKET}/corefiles/${SHOP}/${crash.pod}/${crash.container}/.*X-Amz-Signature=`));

    // The init container's step, as a local process: the command of the stored spec, --out here.
    const command = [...(init.command as string[])];
    assert.equal(command[1], "fetch");
    const local = join(s.dir, `${name}.fetched`);
    command[command.indexOf("--out") + 1] = local;
    assert.equal(command[command.indexOf("--sha256") + 1], sha256(crash.bytes));
    const fetched = await cliProcess(command.slice(1));
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(sha256(await Deno.readFile(local)), sha256(crash.bytes), "the fetched core is the crashed one");

    const again = await debug(s, id);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already exists: using it/);

    const deleted = await debug(s, id, ["--delete"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stderr, new RegExp(`pod ${SHOP}/${name} deleted`));
    assert.equal(await getObject(["pod", name, "-n", SHOP]), undefined, "kubectl get: NotFound");
    const twice = await debug(s, id, ["--delete"]);
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(twice.stderr, /does not exist/);
  }
});

Deno.test("coredog debug and the real PodSecurity plugin: baseline refuses SYS_PTRACE, admits --no-ptrace; restricted refuses both", async () => {
  const s = await prepare();
  const baseline = crashOf(s, BASELINE, "batch-0", "app").record.id.slice(0, 12);
  const refused = await debug(s, baseline);
  console.log(`baseline, SYS_PTRACE: ${refused.stderr}`);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /violates PodSecurity "baseline:latest"/);
  assert.match(refused.stderr, /SYS_PTRACE/);
  assert.doesNotMatch(refused.stderr, /ask for that permission/, "not an RBAC refusal");
  assert.match(refused.stderr, /refused by Pod Security admission, the namespace enforces level baseline/);
  assert.match(refused.stderr, /Run again with --no-ptrace/);
  assert.equal(await getObject(["pod", `coredog-debug-${baseline}`, "-n", BASELINE]), undefined);

  const admitted = await debug(s, baseline, ["--no-ptrace"]);
  assert.equal(admitted.code, 0, admitted.stderr);
  const pod = await getObject(["pod", `coredog-debug-${baseline}`, "-n", BASELINE]) as Json;
  assert.ok(pod, "admitted at baseline without SYS_PTRACE");
  const debuggerContainer = (pod.spec.containers as Json[]).find((c) => c.name === "debugger")!;
  assert.equal(debuggerContainer.securityContext, undefined);
  assert.equal((await debug(s, baseline, ["--delete"])).code, 0);

  const restricted = crashOf(s, RESTRICTED, "locked-0", "app").record.id.slice(0, 12);
  for (const extra of [[], ["--no-ptrace"]]) {
    const result = await debug(s, restricted, extra);
    console.log(`restricted ${extra.join(" ")}: ${result.stderr}`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /violates PodSecurity "restricted:latest"/);
    assert.doesNotMatch(result.stderr, /ask for that permission/);
    assert.match(result.stderr, /cannot pass level restricted: get the core with coredog get/);
    assert.equal(await getObject(["pod", `coredog-debug-${restricted}`, "-n", RESTRICTED]), undefined);
  }
});

Deno.test("coredog debug as an identity without create on pods: the real authorizer's refusal is named", async () => {
  const s = await prepare();
  const id = crashOf(s, SHOP, "api-0", "app").record.id.slice(0, 12);
  const watcherKubeconfig = join(s.dir, "watcher", `${SYSTEM}-watcher.kubeconfig`);
  const result = await cli(s, ["debug", id, "--kubeconfig", watcherKubeconfig]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /forbidden for your user/);
  assert.match(result.stderr, new RegExp(`system:serviceaccount:${SYSTEM}:watcher`));
  assert.match(result.stderr, /cannot create resource "pods"/);
});

Deno.test("coredog --from-cluster reads ConfigMap coredog and the keys of Secret coredog-s3 from the real API server", async () => {
  const s = await prepare();
  const tier = loadTier();
  // The chart's ConfigMap holds the watcher's file (here without keys: the watcher had them from its environment).
  await kubectl(["create", "configmap", "coredog", "-n", SYSTEM, `--from-file=coredog=${s.configPath}`]);
  await kubectl([
    "create",
    "secret",
    "generic",
    "coredog-s3",
    "-n",
    SYSTEM,
    `--from-literal=access-key-id=${tier.minio.accessKeyId}`,
    `--from-literal=secret-access-key=${tier.minio.secretAccessKey}`,
  ]);
  // No S3 keys in the environment: only the Secret has them.
  const fromCluster = (args: string[]) =>
    cliProcess([...args, "--from-cluster", "--coredog-namespace", SYSTEM, "--kubeconfig", s.oncallKubeconfig], {
      KUBECONFIG: "",
    });
  const refused = await fromCluster(["list"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /get configmap cli-system\/coredog: forbidden for your user/);
  assert.match(refused.stderr, /cannot get resource "configmaps"/);

  // What docs/cli.md says --from-cluster needs: get on configmaps and secrets where CoreDog is installed.
  await kubectl(["create", "role", "coredog-reader", "-n", SYSTEM, "--verb=get", "--resource=configmaps,secrets"]);
  await kubectl([
    "create",
    "rolebinding",
    "coredog-reader",
    "-n",
    SYSTEM,
    "--role=coredog-reader",
    `--serviceaccount=${SYSTEM}:oncall`,
  ]);
  const listed = await eventually("list --from-cluster once the Role applies", async () => {
    const result = await fromCluster(["list", "-o", "json"]);
    return result.code === 0 ? result : undefined;
  }, 20_000);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as Json[]).map((r) => r.id),
    [...s.crashes].reverse().map((c) => c.record.id),
  );
  const crash = crashOf(s, SHOP, "web-0", "web");
  const out = join(s.dir, "from-cluster.core");
  const got = await fromCluster(["get", crash.record.id.slice(0, 12), "-o", out]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(sha256(await Deno.readFile(out)), sha256(crash.bytes));
  const dry = await fromCluster(["debug", crash.record.id.slice(0, 12), "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`image: ${WEB_IMAGE_ID.replace(/[.]/g, "\\.")}`));
});

Deno.test("cleanup: the watcher stops, the scenario's namespaces, roles and Node are removed", async () => {
  const s = await prepare();
  await s.watcher.stop();
  for (const namespace of NAMESPACES) {
    await kubectl(["delete", "pods", "--all", "-n", namespace, "--force", "--grace-period=0", "--ignore-not-found"]);
  }
  await kubectl(["delete", "namespace", ...NAMESPACES, "--ignore-not-found", "--wait=true", "--timeout=60s"]);
  await kubectl(["delete", "clusterrolebinding,clusterrole", WATCHER_ROLE, "--ignore-not-found"]);
  await kubectl(["delete", "node", NODE_NAME, "--ignore-not-found"]);
  const left = await kubectlResult(["get", "namespace", SHOP]);
  assert.match(left.stderr, /NotFound/);
});
