/**
 * Hostile requests against the webhook over real HTTPS: broken and huge
 * bodies, wrong kinds, control characters, 10,000 containers, very long
 * paths, slow clients. Each gets a clear 4xx or a safe answer; the server
 * never crashes and never returns a patch that mounts outside the dump
 * root. A table of the scenarios is printed at the end.
 */

import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";
import { createCertificateAuthority, issueServingCertificate } from "../src/tls/certificates.ts";
import { startWebhookServer } from "../src/webhook/server.ts";
import { applyPatch, assertAcceptablePod, COREFILE_DIR, patchOf } from "./support/admission.ts";
import { ScenarioTable } from "./support/scenario_table.ts";
import { createSecretVolume } from "./support/secret_volume.ts";

const table = new ScenarioTable("Hostile input suite (webhook)");
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const dir = await Deno.makeTempDir({ prefix: "coredog-hostile-webhook-" });
const ca = await createCertificateAuthority();
const secret = await createSecretVolume(dir);
await secret.update(await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] }));
const client = Deno.createHttpClient({ caCerts: [ca.certPem] });
const logs: string[] = [];

async function withServer(fn: (base: string) => Promise<void>): Promise<void> {
  const server = startWebhookServer({
    corefileDir: COREFILE_DIR,
    certFile: secret.certFile,
    keyFile: secret.keyFile,
    hostname: "127.0.0.1",
    port: 0,
    healthPort: 0,
    logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
  });
  try {
    await fn(`https://127.0.0.1:${(await server.listening).port}`);
  } finally {
    await server.shutdown();
  }
}

function review(pod: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: crypto.randomUUID(),
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace: "team-a",
      operation: "CREATE",
      object: pod,
      ...overrides,
    },
  };
}

function pod(annotations: Record<string, string>, containers: { name: string }[]): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "web-", namespace: "team-a", annotations },
    spec: { containers: containers.map((c) => ({ image: "busybox", ...c })) },
  };
}

async function post(base: string, body: BodyInit, contentType = "application/json"): Promise<Response> {
  return await fetch(`${base}/mutate`, { method: "POST", body, headers: { "content-type": contentType }, client });
}

Deno.test("hostile webhook: broken, wrong and huge requests get a clear 4xx and never a patch", async () => {
  await withServer(async (base) => {
    const cases: [string, BodyInit, number][] = [
      ["invalid JSON", "{not json", 400],
      ["wrong kind", JSON.stringify({ ...review(pod({}, [{ name: "app" }])), kind: "Pod" }), 400],
      [
        "wrong version",
        JSON.stringify({ ...review(pod({}, [{ name: "app" }])), apiVersion: "admission.k8s.io/v1beta1" }),
        400,
      ],
      ["missing uid", JSON.stringify(review(pod({}, [{ name: "app" }]), { uid: undefined })), 400],
      ["7 MiB body", JSON.stringify({ pad: "x".repeat(7 * 1024 * 1024) }), 413],
    ];
    for (const [name, body, status] of cases) {
      const response = await post(base, body);
      const text = await response.text();
      assert.equal(response.status, status, `${name}: ${text}`);
      assert.ok(!text.includes('"patch"'), `${name} got no patch`);
    }
    const healthy = await post(base, JSON.stringify(review(pod({}, [{ name: "app" }]))));
    assert.equal(healthy.status, 200, "the server still serves");
    await healthy.body?.cancel();
    table.add({
      scenario: "invalid JSON, wrong kind/version, no uid, 7 MiB",
      outcome: "400/413, no patch",
      figures: "5 requests",
    });
  });
});

Deno.test("hostile webhook: control characters and very long paths are refused safely; warnings stay printable", async () => {
  await withServer(async (base) => {
    const nasty: Record<string, string>[] = [
      { "coredog.io/inject": "true", "coredog.io/path": "/core\u0000file" },
      { "coredog.io/inject": "true", "coredog.io/path": "/core\u001b[31mfile" },
      { "coredog.io/inject": "true", "coredog.io/path": `/${"a".repeat(10000)}` },
      { "coredog.io/inject": "true", "coredog.io/path": "/corefile", "coredog.io/container": "app\u0007,\nworker" },
      { "coredog.io/inject": "true\r\n", "coredog.io/path": "/corefile" },
    ];
    for (const annotations of nasty) {
      const body = review(pod(annotations, [{ name: "app" }, { name: "worker" }]));
      const response = await post(base, JSON.stringify(body));
      assert.equal(response.status, 200);
      const answer = await response.json();
      assert.equal(answer.response.allowed, true);
      for (const warning of answer.response.warnings ?? []) {
        assert.ok(
          !CONTROL.test(warning),
          `warning has a control character: ${JSON.stringify(warning)}`,
        );
        assert.ok(warning.length < 120);
      }
      const operations = patchOf(answer);
      if (operations.length === 0) continue;
      const patched = applyPatch((body.request as { object: unknown }).object, operations);
      assertAcceptablePod(patched);
      for (const container of patched.spec.containers) {
        for (const mount of container.volumeMounts ?? []) {
          // deno-lint-ignore no-control-regex
          const bad = /[\u0000-\u001f]/.test(mount.mountPath) || mount.mountPath.length >= 4096;
          assert.ok(!bad, `a mount path no container could use: ${JSON.stringify(mount.mountPath.slice(0, 60))}...`);
        }
      }
    }
    table.add({
      scenario: "control characters, 10,000-char path",
      outcome: "allowed without a bad mount; printable warnings",
      figures: `${nasty.length} requests`,
    });
  });
});

Deno.test("hostile webhook: a pod with 10,000 containers gets a valid patch that stays inside CorefileDir", async () => {
  await withServer(async (base) => {
    const containers = Array.from({ length: 10000 }, (_, i) => ({ name: `c${i}` }));
    const body = review(pod({ "coredog.io/inject": "true", "coredog.io/path": "/corefile" }, containers));
    const started = performance.now();
    const response = await post(base, JSON.stringify(body));
    const seconds = (performance.now() - started) / 1000;
    assert.equal(response.status, 200);
    const answer = await response.json();
    const patched = applyPatch((body.request as { object: unknown }).object, patchOf(answer));
    assertAcceptablePod(patched);
    const volumes = patched.spec.volumes.filter((v: { name: string }) => v.name === "coredog-corefile");
    assert.deepEqual(volumes, [{
      name: "coredog-corefile",
      hostPath: { path: COREFILE_DIR, type: "DirectoryOrCreate" },
    }]);
    for (const [i, container] of patched.spec.containers.entries()) {
      assert.equal(container.volumeMounts[0].subPathExpr, `team-a/$(COREDOG_POD_NAME)/c${i}`);
    }
    table.add({
      scenario: "10,000 containers",
      outcome: "valid patch, every mount under CorefileDir",
      figures: `answered in ${seconds.toFixed(2)} s`,
    });
  });
});

Deno.test("hostile webhook: slow clients holding connections do not stop others from being served", async () => {
  await withServer(async (base) => {
    const port = Number(new URL(base).port);
    const slow: Deno.TlsConn[] = [];
    for (let i = 0; i < 100; i++) {
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca.certPem] });
      // Half a request line, then nothing: a slowloris client.
      await conn.write(new TextEncoder().encode("POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Le"));
      slow.push(conn);
    }
    try {
      const ok = await post(
        base,
        JSON.stringify(review(pod({ "coredog.io/inject": "true", "coredog.io/path": "/corefile" }, [{ name: "app" }]))),
      );
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).response.allowed, true);
      table.add({
        scenario: "100 slowloris connections",
        outcome: "other requests still answered",
        figures: "100 half-sent requests held open",
      });
    } finally {
      for (const conn of slow) conn.close();
    }
  });
});

Deno.test("hostile input suite (webhook): the table", async () => {
  table.finish([
    "invalid JSON, wrong kind/version, no uid, 7 MiB",
    "control characters, 10,000-char path",
    "10,000 containers",
    "100 slowloris connections",
  ]);
  client.close();
  await Deno.remove(dir, { recursive: true });
});
