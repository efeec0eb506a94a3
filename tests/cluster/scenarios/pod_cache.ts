/**
 * The watcher's pod cache on the real control plane. The watcher runs as a
 * host process with `NODE_NAME` set to a registered Node, authenticated by
 * a TokenRequest token of the chart's watcher ServiceAccount, so only the
 * chart's RBAC (list, watch, get pods; create events) lets it work. Pods
 * are bound to that Node by `spec.nodeName` (there is no scheduler):
 * pods of a Deployment and a Job deleted before their core is processed
 * are attributed from tombstones; a pod created later comes from the
 * watch (`coredog_pod_lookups_total{source="cache"}`, no GET); the watch
 * resumes after kube-apiserver restarts; the CoreDumpCaptured Event is
 * written; a rotated token is used and the revoked one is not needed; a
 * ServiceAccount without the chart's roles is refused.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { WATCH_SILENCE_LIMIT_MS } from "../../../src/kube/client.ts";
import { makeRealCore } from "../../support/real_core.ts";
import { freePort } from "../../support/s3_server.ts";
import { type BoundTokenIdentity, boundTokenIdentity, statusWithToken } from "../support/bound_token.ts";
import {
  CHART,
  type Json,
  NAMESPACE,
  NODE_NAME,
  registerNode,
  removeRelease,
  waitForNamespace,
} from "../support/chart.ts";
import { roleLog, type RoleProcess, startWatcherRole, waitForRoleLine } from "../support/coredog_roles.ts";
import { eventually, getObject, helmOk, kubectl, scenarioDir } from "../support/kube.ts";
import { loadTier } from "../support/tier_env.ts";

const APP_NAMESPACE = "pod-cache";

interface Setup {
  dir: string;
  corefileDir: string;
  store: string;
  identity: BoundTokenIdentity;
  watcher: RoleProcess;
  healthPort: number;
}

let setup: Promise<Setup> | undefined;

/** The chart, a Node, the app namespace and one watcher; once for the file. */
function prepare(): Promise<Setup> {
  setup ??= prepareOnce();
  return setup;
}

async function prepareOnce(): Promise<Setup> {
  const dir = await scenarioDir("pod-cache");
  await helmOk(["install", "coredog", CHART, "-n", NAMESPACE, "--create-namespace"]);
  await registerNode();
  await kubectl(["create", "namespace", APP_NAMESPACE]);
  await waitForNamespace(APP_NAMESPACE);
  const identity = await boundTokenIdentity(join(dir, "identity"), NAMESPACE, "coredog-watcher");
  const corefileDir = join(dir, "dumps");
  const store = join(dir, "store");
  const healthPort = freePort();
  const watcher = await startWatcher({ dir, corefileDir, store, kubeconfig: identity.kubeconfig, healthPort });
  await waitForRoleLine(watcher, /pod cache synced/);
  return { dir, corefileDir, store, identity, watcher, healthPort };
}

async function startWatcher(
  options: { dir: string; corefileDir: string; store: string; kubeconfig: string; healthPort: number },
): Promise<RoleProcess> {
  await Deno.mkdir(options.corefileDir, { recursive: true });
  await Deno.mkdir(options.store, { recursive: true });
  const watcher = await startWatcherRole({
    dir: await Deno.makeTempDir({ dir: options.dir }),
    kubeconfig: options.kubeconfig,
    corefileDir: options.corefileDir,
    healthPort: options.healthPort,
    storage: ["protocol: local", `CFSMountPath: ${options.store}`],
    nodeName: NODE_NAME,
  });
  await waitForRoleLine(watcher, /initial scan complete/);
  return watcher;
}

/** `coredog_pod_lookups_total` by source. */
async function lookups(s: Setup): Promise<{ cache: number; tombstone: number; api: number }> {
  const text = await (await fetch(`http://127.0.0.1:${s.healthPort}/metrics`)).text();
  const count = (source: string) =>
    Number(text.match(new RegExp(`^coredog_pod_lookups_total\\{source="${source}"\\} (\\d+)`, "m"))?.[1] ?? 0);
  return { cache: count("cache"), tombstone: count("tombstone"), api: count("api") };
}

/** Puts a real core under `<CorefileDir>/<ns>/<pod>/<container>/` and returns its stored metadata. */
async function coreOf(s: Setup, pod: string, container: string): Promise<Json> {
  await makeRealCore(join(s.corefileDir, APP_NAMESPACE, pod, container));
  const dir = join(s.store, "corefiles", APP_NAMESPACE, pod, container);
  return await eventually(`the metadata of ${pod}'s core`, async () => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.endsWith(".json")) return JSON.parse(await Deno.readTextFile(join(dir, entry.name))) as Json;
    }
    return undefined;
  }, 30_000).catch((error) => {
    throw new Error(`${error.message}\n${roleLog(s.watcher)}`);
  });
}

/** The first pod with `selector` that is not being deleted. */
function podWith(selector: string): Promise<Json> {
  return eventually(`a pod with ${selector}`, async () => {
    const list = await getObject(["pods", "-n", APP_NAMESPACE, "-l", selector]) as Json;
    return (list.items as Json[]).find((pod) => !pod.metadata.deletionTimestamp);
  }, 60_000);
}

/** Deletes a pod at once (no kubelet confirms a graceful deletion) and waits until it is gone. */
async function deletePod(name: string): Promise<void> {
  await kubectl(["delete", "pod", name, "-n", APP_NAMESPACE, "--grace-period=0", "--force", "--wait=false"]);
  await eventually(
    `pod ${name} gone`,
    async () => (await getObject(["pod", name, "-n", APP_NAMESPACE])) ? undefined : true,
    60_000,
  );
}

function barePod(name: string, image: string, nodeName = NODE_NAME): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: APP_NAMESPACE, labels: { app: name } },
    spec: { nodeName, containers: [{ name: "app", image }] },
  });
}

Deno.test("pods of a Deployment and a Job deleted before their cores are processed are attributed from tombstones", async () => {
  const s = await prepare();
  const template = (container: string, image: string, extra: Json = {}) => ({
    metadata: { labels: { app: container } },
    spec: { nodeName: NODE_NAME, containers: [{ name: container, image }], ...extra },
  });
  await kubectl(["apply", "-f", "-"], {
    stdin: JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "web", namespace: APP_NAMESPACE },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: "web" } },
            template: template("web", "registry.example/web:2.0.1"),
          },
        },
        {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name: "nightly", namespace: APP_NAMESPACE },
          spec: { template: template("work", "registry.example/batch:1.0", { restartPolicy: "Never" }) },
        },
      ],
    }),
  });
  const web = await podWith("app=web");
  const job = await podWith("job-name=nightly");
  // The watch needs a moment to deliver them; then they are deleted, as a rollout or ttlSecondsAfterFinished: 0 does.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await deletePod(web.metadata.name);
  await deletePod(job.metadata.name);
  const before = await lookups(s);

  const webCore = await coreOf(s, web.metadata.name, "web");
  assert.equal(webCore.pod.uid, web.metadata.uid, JSON.stringify(webCore.pod));
  assert.deepEqual(webCore.pod.workload, { kind: "Deployment", name: "web" });
  assert.equal(webCore.container.image, "registry.example/web:2.0.1");
  const jobCore = await coreOf(s, job.metadata.name, "work");
  assert.equal(jobCore.pod.uid, job.metadata.uid, JSON.stringify(jobCore.pod));
  assert.deepEqual(jobCore.pod.workload, { kind: "Job", name: "nightly" });
  assert.equal(jobCore.container.image, "registry.example/batch:1.0");

  const after = await lookups(s);
  assert.equal(after.tombstone - before.tombstone, 2, `both from tombstones: ${JSON.stringify(after)}`);
  assert.equal(after.api, before.api, "no GET");
});

Deno.test("a pod created after the watcher started is in the cache, and its CoreDumpCaptured Event is written", async () => {
  const s = await prepare();
  await kubectl(["apply", "-f", "-"], { stdin: barePod("late", "registry.example/late:3.1") });
  const pod = await podWith("app=late");
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const before = await lookups(s);
  const metadata = await coreOf(s, "late", "app");
  assert.equal(metadata.pod.uid, pod.metadata.uid);
  assert.equal(metadata.container.image, "registry.example/late:3.1");
  const after = await lookups(s);
  assert.equal(after.cache - before.cache, 1, `from the cache: ${JSON.stringify(after)}`);
  assert.equal(after.api, before.api, "no GET");
  const events = await eventually("the CoreDumpCaptured Event", async () => {
    const text = await kubectl([
      ...["get", "events", "-n", APP_NAMESPACE, "-o", "json"],
      ...["--field-selector", "involvedObject.name=late,reason=CoreDumpCaptured"],
    ]);
    const items = JSON.parse(text).items as Json[];
    return items.length > 0 ? items : undefined;
  }, 20_000);
  assert.equal(events[0].involvedObject.uid, pod.metadata.uid);
});

// Under Deno a watch whose API server went away neither ends nor fails: only the client's silence limit
// (WATCH_SILENCE_LIMIT_MS, bookmarks arrive about once a minute) notices it and reconnects.
Deno.test("after kube-apiserver restarts, the watch resumes: a pod created then is attributed from the cache", async () => {
  const s = await prepare();
  const tier = loadTier();
  const restarted = await fetch(`${tier.control}/restart-apiserver`, { method: "POST" });
  assert.equal(restarted.status, 200, await restarted.text());
  await eventually("the API server back", async () => (await getObject(["namespace", APP_NAMESPACE])) && true, 60_000);
  // The dead watch is noticed at most WATCH_SILENCE_LIMIT_MS after its last line, then reconnects at once.
  await new Promise((resolve) => setTimeout(resolve, WATCH_SILENCE_LIMIT_MS + 5_000));
  await kubectl(["apply", "-f", "-"], { stdin: barePod("after-restart", "registry.example/after:1.0") });
  const pod = await podWith("app=after-restart");
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const before = await lookups(s);
  const metadata = await coreOf(s, "after-restart", "app");
  assert.equal(metadata.pod.uid, pod.metadata.uid);
  const after = await lookups(s);
  assert.equal(
    after.cache - before.cache,
    1,
    `from the resumed watch: ${JSON.stringify(after)}\n${roleLog(s.watcher)}`,
  );
  assert.equal(after.api, before.api, "no GET");
});

Deno.test("a rotated token is used at once: after the old one is revoked, the watcher still reads pods", async () => {
  const s = await prepare();
  const old = await s.identity.rotate();
  await s.identity.revoke(old);
  await eventually(
    "the old token refused",
    async () => (await statusWithToken("/api/v1/namespaces/default/pods", old)) === 401 ? true : undefined,
  );
  assert.equal(await statusWithToken(`/api/v1/namespaces/${APP_NAMESPACE}/pods`, s.identity.token()), 200);
  // A pod on another node is not in this node's cache: its core needs a GET, made with the token in the file now.
  await kubectl(["apply", "-f", "-"], { stdin: barePod("elsewhere", "registry.example/else:1.0", "node-elsewhere") });
  const pod = await podWith("app=elsewhere");
  const before = await lookups(s);
  const metadata = await coreOf(s, "elsewhere", "app");
  assert.equal(metadata.pod.uid, pod.metadata.uid, `${JSON.stringify(metadata.problems)}\n${roleLog(s.watcher)}`);
  assert.equal((await lookups(s)).api - before.api, 1, "a GET with the new token");
});

Deno.test("a watcher whose ServiceAccount lacks the chart's roles cannot list pods", async () => {
  const s = await prepare();
  await kubectl(["create", "serviceaccount", "no-roles", "-n", NAMESPACE]);
  const identity = await boundTokenIdentity(join(s.dir, "no-roles"), NAMESPACE, "no-roles");
  const watcher = await startWatcher({
    dir: s.dir,
    corefileDir: join(s.dir, "dumps-no-roles"),
    store: join(s.dir, "store-no-roles"),
    kubeconfig: identity.kubeconfig,
    healthPort: freePort(),
  });
  try {
    await waitForRoleLine(watcher, /pod list\/watch failed/);
    const log = roleLog(watcher);
    assert.match(log, /403|[Ff]orbidden/, log);
    assert.doesNotMatch(log, /pod cache synced/, log);
  } finally {
    await watcher.stop();
    await kubectl(["delete", "serviceaccount", "no-roles", "-n", NAMESPACE]);
  }
});

Deno.test("cleanup: the watcher stops, the release and the scenario's objects are removed", async () => {
  const s = await prepare();
  await s.watcher.stop();
  // No kubelet confirms a graceful deletion of a pod bound to a node, and the Job's pods keep its tracking
  // finalizer: without this the namespace would never empty.
  await kubectl(["delete", "deployment,job", "--all", "-n", APP_NAMESPACE, "--wait=false"]);
  const pods = await getObject(["pods", "-n", APP_NAMESPACE]) as Json;
  for (const pod of pods.items as Json[]) {
    await kubectl([
      "patch",
      "pod",
      pod.metadata.name,
      "-n",
      APP_NAMESPACE,
      "--type=merge",
      "-p",
      '{"metadata":{"finalizers":null}}',
    ]);
  }
  await kubectl(["delete", "pods", "--all", "-n", APP_NAMESPACE, "--grace-period=0", "--force"]);
  await removeRelease([APP_NAMESPACE, NAMESPACE]);
});
