/**
 * Enrichment from the Kubernetes API, against a fake API server that
 * answers with recorded real Pod objects over real HTTPS.
 */

import assert from "node:assert/strict";
import type { CrashRecord } from "../src/core/crash_record.ts";
import { KubeClient } from "../src/kube/client.ts";
import { exists, listTree, startTestWatcher, storedRecords, waitFor } from "./support/harness.ts";
import { startFakeKubeApi } from "./support/fake_kube_api.ts";

const POD = JSON.parse(await Deno.readTextFile(new URL("./fixtures/kube/pod_web.json", import.meta.url)));

async function setup(pods: Record<string, unknown>, watcherYaml: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "coredog-kube-" });
  const api = await startFakeKubeApi(pods);
  await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
  await Deno.writeTextFile(`${dir}/token`, "token-one");
  const kube = new KubeClient({ apiUrl: api.url, tokenPath: `${dir}/token`, caPath: `${dir}/ca.crt`, timeoutMs: 2000 });
  const test = await startTestWatcher({ corefileDir: `${dir}/dumps`, localDir: `${dir}/bucket`, kube, watcherYaml });
  return { dir, api, test };
}

async function metadataOf(dir: string): Promise<CrashRecord> {
  const records = await storedRecords(`${dir}/bucket`);
  assert.equal(records.length, 1, "one stored record");
  return records[0];
}

Deno.test("a core is enriched with pod uid, node, image, workload and restarts, and a CoreDumpCaptured event is recorded", async () => {
  const { dir, api, test } = await setup({ "team-a/web-7d9f8c6b5-x2x4q": POD });
  try {
    const podDir = `${dir}/dumps/team-a/web-7d9f8c6b5-x2x4q/app`;
    await Deno.mkdir(podDir, { recursive: true });
    await Deno.writeTextFile(`${podDir}/core.server.1`, "not an ELF core, only text");
    await waitFor("the first core stored", () => test.watcher.metrics.coresUploaded.get() === 1);
    await waitFor("the event", () => api.events.length === 1);

    const metadata = await metadataOf(dir);
    assert.equal(metadata.pod.uid, "5f0c7d6e-3b7a-4c1e-9a55-2b8f1c3d4e5f");
    assert.equal(metadata.pod.node, "node-7");
    assert.equal(metadata.pod.ip, "10.244.3.15");
    assert.deepEqual(metadata.pod.workload, { kind: "Deployment", name: "web" });
    assert.equal(metadata.pod.labels?.app, "web");
    assert.equal(metadata.container.name, "app");
    assert.equal(metadata.container.image, "registry.example.com/team-a/web:1.4.2");
    assert.match(metadata.container.imageID ?? "", /@sha256:4f1ad3c9/);
    assert.equal(metadata.container.restartCount, 3);
    assert.deepEqual(metadata.problems, ["no ELF magic"]);

    const event = api.events[0] as { reason: string; type: string; involvedObject: unknown; message: string };
    assert.equal(event.reason, "CoreDumpCaptured");
    assert.equal(event.type, "Warning");
    assert.deepEqual(event.involvedObject, {
      apiVersion: "v1",
      kind: "Pod",
      namespace: "team-a",
      name: "web-7d9f8c6b5-x2x4q",
      uid: "5f0c7d6e-3b7a-4c1e-9a55-2b8f1c3d4e5f",
      fieldPath: "spec.containers{app}",
    });
    assert.match(event.message, /stored at corefiles\/team-a\/web-7d9f8c6b5-x2x4q\/app\//);
    await waitFor("the message", () => test.messages.length === 1);
    assert.match(test.messages[0], /container: app \(registry\.example\.com\/team-a\/web:1\.4\.2\)/);
    assert.match(test.messages[0], /workload: Deployment\/web/);

    // The service-account token is read again for each request (bound tokens rotate).
    await Deno.writeTextFile(`${dir}/token`, "token-two");
    await Deno.writeTextFile(`${podDir}/core.server.2`, "second");
    await waitFor("the second core stored", () => test.watcher.metrics.coresUploaded.get() === 2);
    assert.equal(api.authorizations[0], "Bearer token-one");
    assert.equal(api.authorizations.at(-1), "Bearer token-two");
  } finally {
    await test.stop();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in the seed's per-pod layout the container is named by the webhook's annotation", async () => {
  const { dir, api, test } = await setup({ "team-a/web-7d9f8c6b5-x2x4q": POD });
  try {
    const podDir = `${dir}/dumps/team-a/web-7d9f8c6b5-x2x4q`;
    await Deno.mkdir(podDir, { recursive: true });
    await Deno.writeTextFile(`${podDir}/core.server.1`, "pod-level core");
    await waitFor("the core stored", () => test.watcher.metrics.coresUploaded.get() === 1);
    const metadata = await metadataOf(dir);
    assert.equal(metadata.container.name, "app");
    assert.equal(metadata.attribution.kind, "container");
    assert.ok(
      (await listTree(`${dir}/bucket`)).every((f) => f.startsWith("corefiles/team-a/web-7d9f8c6b5-x2x4q/app/")),
    );
  } finally {
    await test.stop();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a pod that no longer exists, or an unreachable API, still gets its core stored with what the path tells", async () => {
  const { dir, api, test } = await setup({});
  try {
    const podDir = `${dir}/dumps/team-a/gone-pod/app`;
    await Deno.mkdir(podDir, { recursive: true });
    await Deno.writeTextFile(`${podDir}/core.1`, "core of a deleted pod");
    await waitFor("the core stored", () => test.watcher.metrics.coresUploaded.get() === 1);
    let metadata = await metadataOf(dir);
    assert.equal(metadata.pod.name, "gone-pod");
    assert.equal(metadata.container.name, "app");
    assert.ok(metadata.problems.includes("pod not found in the Kubernetes API"), metadata.problems.join("; "));
    assert.equal(api.events.length, 0, "no event for a pod that is gone");

    await api.close();
    await Deno.remove(`${dir}/bucket`, { recursive: true });
    await Deno.writeTextFile(`${podDir}/core.2`, "core while the API is down");
    await waitFor("the core stored without the API", () => test.watcher.metrics.coresUploaded.get() === 2);
    metadata = await metadataOf(dir);
    assert.ok(metadata.problems.some((p: string) => p.startsWith("kubernetes API: ")), metadata.problems.join("; "));
    assert.ok(!(await exists(`${podDir}/core.2`)));
    await waitFor("both messages", () => test.messages.length === 2);
  } finally {
    await test.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The recorded pod, moved to the test watcher's node (node-1), so that the node's list and watch carry it. */
function podOnThisNode(name: string): Record<string, unknown> {
  const pod = structuredClone(POD);
  pod.metadata.name = name;
  pod.metadata.uid = `uid-${name}`;
  pod.spec.nodeName = "node-1";
  return pod;
}

async function coreOf(dir: string, test: { watcher: { metrics: { coresUploaded: { get(): number } } } }, pod: string) {
  const before = test.watcher.metrics.coresUploaded.get();
  const podDir = `${dir}/dumps/team-a/${pod}/app`;
  await Deno.mkdir(podDir, { recursive: true });
  await Deno.writeTextFile(`${podDir}/core.${before + 1}`, "core");
  await waitFor(`the core of ${pod} stored`, () => test.watcher.metrics.coresUploaded.get() === before + 1);
  const records = await storedRecords(`${dir}/bucket`);
  return records.find((r) => r.pod.name === pod && r.corefile.filename === `core.${before + 1}`)!;
}

const podGets = (api: { requests: { verb: string; resource: string }[] }) =>
  api.requests.filter((r) => r.resource === "pods" && r.verb === "get").length;

Deno.test("a pod deleted before its core is processed is attributed from its tombstone; a pod created later from the watch", async () => {
  const { dir, api, test } = await setup({ "team-a/job-abc12": podOnThisNode("job-abc12") });
  try {
    await waitFor("the pod watch", () => api.requests.some((r) => r.verb === "watch"));
    api.deletePod("team-a", "job-abc12");
    api.putPod(podOnThisNode("web-late"));
    // The watch delivers both changes before the cores are processed.
    await new Promise((r) => setTimeout(r, 300));
    const gone = await coreOf(dir, test, "job-abc12");
    assert.equal(gone.pod.uid, "uid-job-abc12");
    assert.deepEqual(gone.pod.workload, { kind: "Deployment", name: "web" });
    assert.equal(gone.container.image, "registry.example.com/team-a/web:1.4.2");
    const late = await coreOf(dir, test, "web-late");
    assert.equal(late.pod.uid, "uid-web-late");
    assert.equal(podGets(api), 0, "both answered by the cache, no GET");
    const lookups = test.watcher.metrics.podLookups;
    assert.deepEqual(
      [lookups.get({ source: "tombstone" }), lookups.get({ source: "cache" })],
      [1, 1],
      "the metric says so",
    );
    assert.equal(lookups.get({ source: "api" }), 0);
  } finally {
    await test.stop();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Watcher.PodTombstoneMinutes: 0 forgets a deleted pod at once, so its late core is asked for and unattributed", async () => {
  const { dir, api, test } = await setup({ "team-a/job-abc12": podOnThisNode("job-abc12") }, [
    "PodTombstoneMinutes: 0",
  ]);
  try {
    await waitFor("the pod watch", () => api.requests.some((r) => r.verb === "watch"));
    api.deletePod("team-a", "job-abc12");
    await new Promise((r) => setTimeout(r, 300));
    const gone = await coreOf(dir, test, "job-abc12");
    assert.equal(gone.pod.uid, undefined, "no tombstone kept");
    assert.equal(podGets(api), 1, "the cache did not know it, so it was asked for");
  } finally {
    await test.stop();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a watch the server closes resumes from its resourceVersion; after 410 Expired the cache relists", async () => {
  const { dir, api, test } = await setup({});
  try {
    await waitFor("the pod watch", () => api.watchResourceVersions.length === 1);
    api.closeWatches();
    await waitFor("the watch resumed", () => api.watchResourceVersions.length === 2, 10_000);
    assert.notEqual(api.watchResourceVersions[1], "", "resumed with a resourceVersion");
    api.putPod(podOnThisNode("after-resume"));
    assert.equal((await coreOf(dir, test, "after-resume")).pod.uid, "uid-after-resume");

    const lists = () => api.requests.filter((r) => r.verb === "list").length;
    assert.equal(lists(), 1);
    // A change the watcher cannot see, then history compacted: its resourceVersion is now too old.
    api.setDown(true);
    api.putPod(podOnThisNode("after-relist"));
    api.compact();
    api.setDown(false);
    await waitFor("the relist after 410", () => lists() === 2, 15_000);
    assert.equal((await coreOf(dir, test, "after-relist")).pod.uid, "uid-after-relist");
    assert.equal(podGets(api), 0, "the cache answered");
  } finally {
    await test.stop();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with the API down at start cores are stored at once; once it is back the cache syncs and attributes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-kube-" });
  const api = await startFakeKubeApi({ "team-a/early": podOnThisNode("early") });
  api.setDown(true);
  await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
  await Deno.writeTextFile(`${dir}/token`, "token");
  const kube = new KubeClient({ apiUrl: api.url, tokenPath: `${dir}/token`, caPath: `${dir}/ca.crt`, timeoutMs: 2000 });
  const test = await startTestWatcher({ corefileDir: `${dir}/dumps`, localDir: `${dir}/bucket`, kube });
  try {
    const started = Date.now();
    const early = await coreOf(dir, test, "early");
    assert.ok(Date.now() - started < 2000 + 3000, "not held back longer than the enrichment timeout");
    assert.equal(early.pod.uid, undefined);
    assert.ok(early.problems.some((p) => p.includes("HTTP 503")), early.problems.join("; "));
    api.setDown(false);
    await waitFor("the cache synced", () => test.logs.some((l) => l.includes("pod cache synced")), 20_000);
    const later = await coreOf(dir, test, "early");
    assert.equal(later.pod.uid, "uid-early");
  } finally {
    await test.stop();
    await api.close();
    await Deno.remove(dir, { recursive: true });
  }
});
