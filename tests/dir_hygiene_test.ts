/**
 * The sweep of dump directories of pods that are gone, against a fake API
 * server answering with recorded Pod shapes over HTTPS: only directories
 * that are empty, old, and whose pod the API says is gone (or now runs on
 * another node) are removed.
 */

import assert from "node:assert/strict";
import { KubeClient } from "../src/kube/client.ts";
import { createLogger } from "../src/log.ts";
import { DirHygiene } from "../src/watcher/dir_hygiene.ts";
import { exists } from "./support/harness.ts";
import { startFakeKubeApi } from "./support/fake_kube_api.ts";

const HOUR = 60 * 60 * 1000;

function podOn(name: string, node: string) {
  return { kind: "Pod", apiVersion: "v1", metadata: { name, namespace: "shop" }, spec: { nodeName: node } };
}

Deno.test("the sweep removes only empty, old directories of pods the API says are gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-hygiene-" });
  const api = await startFakeKubeApi({
    "shop/alive": podOn("alive", "node-1"),
    "shop/moved": podOn("moved", "node-2"),
  });
  await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
  await Deno.writeTextFile(`${dir}/token`, "token");
  const root = `${dir}/dumps`;
  const old = new Date(Date.now() - 3 * HOUR);
  const layout: Record<string, boolean> = {
    "shop/gone": true, // empty, old, pod gone: removed
    "shop/moved": true, // pod now runs on another node: removed
    "shop/alive": false, // pod alive here: kept
    "shop/gone-with-core": false, // holds a file: kept
    "shop/gone-recent": false, // changed recently: kept
  };
  for (const pod of Object.keys(layout)) await Deno.mkdir(`${root}/${pod}/app`, { recursive: true });
  await Deno.writeTextFile(`${root}/shop/gone-with-core/app/core.1`, "a core not yet stored");
  for (const pod of Object.keys(layout)) {
    if (pod === "shop/gone-recent") continue;
    await Deno.utime(`${root}/${pod}/app`, old, old);
    await Deno.utime(`${root}/${pod}`, old, old);
  }
  const kube = new KubeClient({ apiUrl: api.url, tokenPath: `${dir}/token`, caPath: `${dir}/ca.crt` });
  const logs: string[] = [];
  const hygiene = new DirHygiene({
    corefileDir: root,
    kube,
    graceMs: HOUR,
    nodeName: "node-1",
    logger: createLogger({ level: "debug", write: (l) => logs.push(l) }),
  });
  try {
    const removed = await hygiene.sweep();
    assert.deepEqual(removed.sort(), [`${root}/shop/gone`, `${root}/shop/moved`]);
    for (const [pod, gone] of Object.entries(layout)) assert.equal(await exists(`${root}/${pod}`), !gone, pod);
    assert.ok(await exists(`${root}/shop/gone-with-core/app/core.1`));

    // With the API down, nothing is removed.
    await api.close();
    await Deno.mkdir(`${root}/shop/gone-again/app`, { recursive: true });
    await Deno.utime(`${root}/shop/gone-again/app`, old, old);
    await Deno.utime(`${root}/shop/gone-again`, old, old);
    assert.deepEqual(await hygiene.sweep(), []);
    assert.ok(await exists(`${root}/shop/gone-again`));
  } finally {
    await api.close().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
