/**
 * The watcher on the real control plane, as a host process authenticated
 * with a TokenRequest token of the chart's watcher ServiceAccount: a real
 * core under `<CorefileDir>/<ns>/<pod>/<container>/` of a Deployment's pod is
 * enriched from the real API, its CoreDumpCaptured Event is listed by
 * kubectl, the directory of a deleted pod is swept, and a ServiceAccount
 * without the chart's roles is refused by the real authorizer.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { makeRealCore } from "../../support/real_core.ts";
import { freePort } from "../../support/s3_server.ts";
import { CHART, type Json, NAMESPACE, waitForNamespace } from "../support/chart.ts";
import { roleLog, type RoleProcess, startWatcherRole, waitForRoleLine } from "../support/coredog_roles.ts";
import {
  eventually,
  getObject,
  helmOk,
  kubectl,
  kubectlResult,
  scenarioDir,
  serviceAccountIdentity,
} from "../support/kube.ts";

const APP_NAMESPACE = "shop";
const WATCHER = `system:serviceaccount:${NAMESPACE}:coredog-watcher`;

interface Setup {
  dir: string;
  corefileDir: string;
  store: string;
  kubeconfig: string;
  pod: Json;
}

let setup: Promise<Setup> | undefined;

/** The chart installed, a Deployment with one pod, and the watcher's identity; once for the file. */
function prepare(): Promise<Setup> {
  setup ??= prepareOnce();
  return setup;
}

async function prepareOnce(): Promise<Setup> {
  const dir = await scenarioDir("watcher");
  await helmOk(["install", "coredog", CHART, "-n", NAMESPACE, "--create-namespace"]);
  await kubectl(["create", "namespace", APP_NAMESPACE]);
  await waitForNamespace(APP_NAMESPACE);
  await kubectl(["create", "deployment", "web", "-n", APP_NAMESPACE, "--image=registry.example/web:1.4.2"]);
  const pod = await eventually("the Deployment's pod", async () => {
    const list = await getObject(["pods", "-n", APP_NAMESPACE, "-l", "app=web"]) as Json;
    return list.items[0] as Json | undefined;
  }, 60_000);
  const identity = await serviceAccountIdentity(dir, NAMESPACE, "coredog-watcher");
  return { dir, corefileDir: join(dir, "dumps"), store: join(dir, "store"), kubeconfig: identity.kubeconfig, pod };
}

async function startWatcher(s: Setup, kubeconfig: string, extra: string[] = []): Promise<RoleProcess> {
  await Deno.mkdir(s.corefileDir, { recursive: true });
  await Deno.mkdir(s.store, { recursive: true });
  const watcher = await startWatcherRole({
    dir: await Deno.makeTempDir({ dir: s.dir }),
    kubeconfig,
    corefileDir: s.corefileDir,
    healthPort: freePort(),
    storage: ["protocol: local", `CFSMountPath: ${s.store}`],
    watcher: extra,
    nodeName: "node-1",
  });
  await waitForRoleLine(watcher, /initial scan complete/);
  return watcher;
}

/** The metadata objects the watcher stored for `pod`, parsed. */
async function storedMetadata(store: string, pod: string): Promise<Json[]> {
  const found: Json[] = [];
  const dir = join(store, "corefiles", APP_NAMESPACE, pod, "web");
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.endsWith(".json")) found.push(JSON.parse(await Deno.readTextFile(join(dir, entry.name))));
    }
  } catch {
    // not there yet
  }
  return found;
}

Deno.test("the chart's watcher ServiceAccount may read pods and write events, and nothing else", async () => {
  await prepare();
  const can = async (verb: string, resource: string) =>
    (await kubectlResult(["auth", "can-i", verb, resource, "--all-namespaces", "--as", WATCHER])).stdout.trim();
  assert.equal(await can("get", "pods"), "yes");
  assert.equal(await can("list", "pods"), "yes");
  assert.equal(await can("watch", "pods"), "yes");
  assert.equal(await can("create", "events"), "yes");
  assert.equal(await can("delete", "pods"), "no");
  assert.equal(await can("get", "secrets"), "no");
  assert.equal(await can("get", "replicasets"), "no");
});

Deno.test("a real core of a Deployment's pod is enriched from the real API and its Event is listed by kubectl", async () => {
  const s = await prepare();
  const watcher = await startWatcher(s, s.kubeconfig);
  try {
    const podName = s.pod.metadata.name as string;
    const core = await makeRealCore(join(s.corefileDir, APP_NAMESPACE, podName, "web"));
    const [metadata] = await eventually("the core's metadata", async () => {
      const found = await storedMetadata(s.store, podName);
      return found.length === 1 ? found : undefined;
    }, 30_000).catch((error) => {
      throw new Error(`${error.message}\n${roleLog(watcher)}`);
    });
    assert.equal(metadata.pod.namespace, APP_NAMESPACE);
    assert.equal(metadata.pod.name, podName);
    assert.equal(metadata.pod.uid, s.pod.metadata.uid, JSON.stringify(metadata.pod));
    assert.deepEqual(metadata.pod.workload, { kind: "Deployment", name: "web" });
    assert.equal(metadata.container.name, "web");
    assert.equal(metadata.container.image, "registry.example/web:1.4.2");
    await eventually("the local core to be deleted", async () => {
      try {
        await Deno.stat(core);
        return undefined;
      } catch {
        return true;
      }
    });
    const events = await eventually("the CoreDumpCaptured Event", async () => {
      const text = await kubectl([
        "get",
        "events",
        "-n",
        APP_NAMESPACE,
        "--field-selector",
        `involvedObject.name=${podName},reason=CoreDumpCaptured`,
        "-o",
        "json",
      ]);
      const items = JSON.parse(text).items as Json[];
      return items.length > 0 ? items : undefined;
    }, 20_000);
    assert.equal(events[0].involvedObject.uid, s.pod.metadata.uid);
    assert.match(events[0].message, /SIGSEGV/);
  } finally {
    await watcher.stop();
  }
});

Deno.test("a ServiceAccount without the chart's roles is refused by the real authorizer; the core is still stored", async () => {
  const s = await prepare();
  await kubectl(["create", "serviceaccount", "no-roles", "-n", NAMESPACE]);
  const identity = await serviceAccountIdentity(join(s.dir, "no-roles"), NAMESPACE, "no-roles");
  const corefileDir = join(s.dir, "dumps-no-roles");
  const store = join(s.dir, "store-no-roles");
  const watcher = await startWatcher({ ...s, corefileDir, store }, identity.kubeconfig);
  try {
    const podName = s.pod.metadata.name as string;
    await makeRealCore(join(corefileDir, APP_NAMESPACE, podName, "web"));
    const [metadata] = await eventually("the core's metadata", async () => {
      const found = await storedMetadata(store, podName);
      return found.length === 1 ? found : undefined;
    }, 30_000).catch((error) => {
      throw new Error(`${error.message}\n${roleLog(watcher)}`);
    });
    assert.equal(metadata.pod.name, podName, "attributed from the path");
    assert.equal(metadata.pod.uid, undefined, "nothing read from the API");
    const refused = roleLog(watcher);
    assert.match(refused, /403|[Ff]orbidden/, refused);
    assert.match(refused, /system:serviceaccount:coredog-system:no-roles/, refused);
  } finally {
    await watcher.stop();
    await kubectl(["delete", "serviceaccount", "no-roles", "-n", NAMESPACE]);
  }
});

Deno.test("after kubectl delete pod, the pod's empty directory is swept; a live pod's directory is kept", async () => {
  const s = await prepare();
  const podName = s.pod.metadata.name as string;
  const goneDir = join(s.corefileDir, APP_NAMESPACE, podName);
  await Deno.mkdir(join(goneDir, "web"), { recursive: true });
  await kubectl(["delete", "pod", podName, "-n", APP_NAMESPACE, "--wait=false"]);
  await eventually(
    "the pod to be gone",
    async () => (await getObject(["pod", podName, "-n", APP_NAMESPACE])) ? undefined : true,
    30_000,
  );
  const replacement = await eventually("the ReplicaSet's new pod", async () => {
    const list = await getObject(["pods", "-n", APP_NAMESPACE, "-l", "app=web"]) as Json;
    return (list.items as Json[]).find((p) => p.metadata.name !== podName && !p.metadata.deletionTimestamp);
  }, 60_000);
  const liveDir = join(s.corefileDir, APP_NAMESPACE, replacement.metadata.name);
  await Deno.mkdir(join(liveDir, "web"), { recursive: true });
  // Old enough for a grace of one minute: the sweep runs at start, then every ten minutes.
  const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
  for (const path of [join(goneDir, "web"), goneDir, join(liveDir, "web"), liveDir]) await Deno.utime(path, old, old);
  const watcher = await startWatcher(s, s.kubeconfig, ["PodDirGraceMinutes: 1"]);
  try {
    await eventually("the deleted pod's directory to be swept", async () => {
      try {
        await Deno.stat(goneDir);
        return undefined;
      } catch {
        return true;
      }
    }, 30_000).catch((error) => {
      throw new Error(`${error.message}\n${roleLog(watcher)}`);
    });
    assert.ok((await Deno.stat(liveDir)).isDirectory, "the live pod's directory stays");
  } finally {
    await watcher.stop();
    await kubectl(["delete", "namespace", APP_NAMESPACE, "--wait=false"]);
    await helmOk(["uninstall", "coredog", "-n", NAMESPACE]);
  }
});
