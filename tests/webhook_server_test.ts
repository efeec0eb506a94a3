import assert from "node:assert/strict";
import { join } from "node:path";
import { startDevWebhook } from "../src/dev/dev_webhook.ts";
import { createLogger } from "../src/log.ts";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueServingCertificate,
} from "../src/tls/certificates.ts";
import { startWebhookServer, type WebhookServer } from "../src/webhook/server.ts";
import {
  applyPatch,
  assertAcceptablePod,
  assertInjectedPod,
  coredogMounts,
  COREFILE_DIR,
  fixtureText,
  patchOf,
  podOf,
} from "./support/admission.ts";
import { waitFor } from "./support/harness.ts";
import { createSecretVolume, type SecretVolume } from "./support/secret_volume.ts";
import { hasTools } from "./support/process.ts";
import { taskRunArgs } from "./support/tasks.ts";

const JSON_HEADERS = { "content-type": "application/json" };

interface Running {
  server: WebhookServer;
  secret: SecretVolume;
  ca: CertificateAuthority;
  logs: string[];
  dir: string;
  /** `https://127.0.0.1:<port>` once listening. */
  base: string;
  /** `http://127.0.0.1:<port>` of the plain health port. */
  health: string;
  stop(): Promise<void>;
}

async function newCa(): Promise<CertificateAuthority> {
  return await createCertificateAuthority();
}

async function leafOf(ca: CertificateAuthority) {
  return await issueServingCertificate(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
}

/** Starts a webhook on a fake Secret volume; with `withCertificate: false` the volume starts empty. */
async function startWebhook(
  options: { withCertificate?: boolean; certCheckIntervalMs?: number } = {},
): Promise<Running> {
  const dir = await Deno.makeTempDir({ prefix: "coredog-webhook-" });
  const secret = await createSecretVolume(dir);
  const ca = await newCa();
  if (options.withCertificate ?? true) await secret.update(await leafOf(ca));
  const logs: string[] = [];
  const server = startWebhookServer({
    corefileDir: COREFILE_DIR,
    certFile: secret.certFile,
    keyFile: secret.keyFile,
    hostname: "127.0.0.1",
    port: 0,
    healthPort: 0,
    certCheckIntervalMs: options.certCheckIntervalMs ?? 50,
    logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
  });
  const running: Running = {
    server,
    secret,
    ca,
    logs,
    dir,
    base: "",
    health: `http://127.0.0.1:${server.healthAddr!.port}`,
    async stop() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
  if (options.withCertificate ?? true) running.base = `https://127.0.0.1:${(await server.listening).port}`;
  return running;
}

/** A response read to the end. */
interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** Fetches on a connection of its own, trusting only `caCerts`. */
async function fetchFresh(url: string, caCerts: string[], init: RequestInit = {}): Promise<Answer> {
  const client = Deno.createHttpClient({ caCerts });
  try {
    const response = await fetch(url, { ...init, client });
    return { status: response.status, headers: response.headers, body: await response.text() };
  } finally {
    client.close();
  }
}

// deno-lint-ignore no-explicit-any
async function postFixture(running: Running, name: string): Promise<{ status: number; json: any }> {
  const response = await fetchFresh(`${running.base}/mutate`, [running.ca.certPem], {
    method: "POST",
    headers: JSON_HEADERS,
    body: await fixtureText(name),
  });
  return { status: response.status, json: JSON.parse(response.body) };
}

/** A request whose body arrives in two parts, so that it stays in flight until `finish()`. */
function slowRequest(url: string, body: string, client: Deno.HttpClient): {
  response: Promise<Response>;
  finish(): void;
} {
  const half = Math.floor(body.length / 2);
  const bytes = new TextEncoder().encode(body);
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(bytes.subarray(0, half));
    },
  });
  return {
    response: fetch(url, { method: "POST", headers: JSON_HEADERS, body: stream, client }),
    finish() {
      controller.enqueue(bytes.subarray(half));
      controller.close();
    },
  };
}

Deno.test("the committed sample AdmissionReview, posted over HTTPS, gets a patch that makes a valid pod", async () => {
  const running = await startWebhook();
  try {
    const sample = await fixtureText("deployment_pod.json");
    const response = await fetchFresh(`${running.base}/mutate`, [running.ca.certPem], {
      method: "POST",
      headers: JSON_HEADERS,
      body: sample,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    const json = JSON.parse(response.body);
    assert.equal(json.apiVersion, "admission.k8s.io/v1");
    assert.equal(json.kind, "AdmissionReview");
    assert.equal(json.response.uid, "0c8f2f7e-2b1a-4f39-9a6b-5d6c1e2f3a41");
    assert.equal(json.response.allowed, true);
    const patched = applyPatch(podOf(JSON.parse(sample)), patchOf(json));
    assertAcceptablePod(patched);
    assertInjectedPod(patched, ["app"]);
    assert.deepEqual(coredogMounts(patched, "/corefile"), { app: "team-a/$(COREDOG_POD_NAME)/app" });
    assert.ok(
      running.logs.some((l) =>
        l.includes('msg="injected dump directory"') && l.includes("pod=team-a/web-7d9f8b6c5d-*")
      ),
      running.logs.join("\n"),
    );
  } finally {
    await running.stop();
  }
});

Deno.test("skipped pods are logged with the seed's line and get warnings but no patch over HTTPS", async () => {
  const running = await startWebhook();
  try {
    const missing = await postFixture(running, "missing_path.json");
    assert.equal(missing.status, 200);
    assert.deepEqual(missing.json.response, {
      uid: "51627384-9eaf-40b1-c2d3-4e5f6a7b8c96",
      allowed: true,
      warnings: ["coredog: not injected: annotation coredog.io/path is required but not set"],
    });
    assert.ok(running.logs.some((l) =>
      l.includes(
        'msg="Skip injection for pod default/my-pod-* - Reason: annotation coredog.io/path is required but not set"',
      )
    ));
    const configMap = await postFixture(running, "configmap_create.json");
    assert.deepEqual(configMap.json.response, { uid: "c3d4e5f6-a7b8-49c0-d1e2-f3a4b5c6d7e8", allowed: true });
  } finally {
    await running.stop();
  }
});

Deno.test("malformed requests get a clear 4xx and never a patch, and the server keeps serving", async () => {
  const running = await startWebhook();
  try {
    const url = `${running.base}/mutate`;
    const ca = [running.ca.certPem];
    const good = JSON.parse(await fixtureText("deployment_pod.json"));
    const cases: { init: RequestInit; status: number; says: RegExp; path?: string }[] = [
      { init: { method: "GET" }, status: 405, says: /use POST/ },
      { init: { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }, status: 415, says: /json/ },
      { init: { method: "POST", body: JSON.stringify(good) }, status: 415, says: /content-type/ },
      { init: { method: "POST", headers: JSON_HEADERS, body: "{not json" }, status: 400, says: /not JSON/ },
      {
        init: {
          method: "POST",
          headers: JSON_HEADERS,
          body: JSON.stringify({ ...good, apiVersion: "admission.k8s.io/v1beta1" }),
        },
        status: 400,
        says: /apiVersion must be admission.k8s.io\/v1/,
      },
      {
        init: { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ ...good, kind: "Pod" }) },
        status: 400,
        says: /kind must be AdmissionReview/,
      },
      {
        init: {
          method: "POST",
          headers: JSON_HEADERS,
          body: JSON.stringify({ ...good, request: { ...good.request, uid: undefined } }),
        },
        status: 400,
        says: /request.uid is missing/,
      },
      {
        init: { method: "POST", headers: JSON_HEADERS, body: "x".repeat(6 * 1024 * 1024 + 1) },
        status: 413,
        says: /larger than 6291456 bytes/,
      },
      {
        init: { method: "POST", headers: JSON_HEADERS, body: "{}" },
        status: 404,
        says: /not found/,
        path: "/validate",
      },
    ];
    for (const { init, status, says, path } of cases) {
      const response = await fetchFresh(path ? `${running.base}${path}` : url, ca, init);
      const body = response.body;
      assert.equal(response.status, status, `${init.method} ${String(init.body).slice(0, 30)}: ${body}`);
      assert.match(body, says);
      assert.doesNotMatch(body, /patch/);
    }
    // A body streamed without a length is cut off at the limit too.
    const big = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(1024 * 1024).fill(32));
      },
    });
    const streamed = await fetchFresh(url, ca, { method: "POST", headers: JSON_HEADERS, body: big });
    assert.equal(streamed.status, 413);
    const after = await postFixture(running, "deployment_pod.json");
    assert.equal(after.status, 200);
    assert.ok(after.json.response.patch);
  } finally {
    await running.stop();
  }
});

Deno.test("/healthz, /readyz and /metrics report requests, injections, skips by reason, errors and latency", async () => {
  const running = await startWebhook();
  try {
    await postFixture(running, "deployment_pod.json");
    await postFixture(running, "four_containers.json");
    await postFixture(running, "dangerous_path.json");
    await postFixture(running, "already_injected.json");
    await fetchFresh(`${running.base}/mutate`, [running.ca.certPem], {
      method: "POST",
      headers: JSON_HEADERS,
      body: "[",
    });
    for (const base of [running.base, running.health]) {
      assert.equal((await fetchFresh(`${base}/healthz`, [running.ca.certPem])).body, "ok\n");
      const ready = await fetchFresh(`${base}/readyz`, [running.ca.certPem]);
      assert.equal(ready.status, 200);
      const metrics = (await fetchFresh(`${base}/metrics`, [running.ca.certPem])).body;
      for (
        const line of [
          'coredog_webhook_requests_total{code="200"} 4',
          'coredog_webhook_requests_total{code="400"} 1',
          "coredog_webhook_injected_total 2",
          'coredog_webhook_skipped_total{reason="path-refused"} 1',
          'coredog_webhook_skipped_total{reason="already-injected"} 1',
          'coredog_webhook_errors_total{kind="bad-request"} 1',
          "coredog_webhook_request_seconds_count 5",
          "coredog_webhook_requests_in_flight 0",
          'coredog_webhook_certificate_loads_total{result="loaded"} 1',
        ]
      ) {
        assert.ok(metrics.includes(line), `${line} missing from:\n${metrics}`);
      }
      assert.match(metrics, /coredog_webhook_certificate_not_after_seconds \d{10}/);
    }
    // The plain health port does not serve admission.
    assert.equal((await fetchFresh(`${running.health}/mutate`, [], { method: "POST" })).status, 404);
  } finally {
    await running.stop();
  }
});

Deno.test("without a certificate the webhook is alive but not ready; it starts serving when the Secret appears", async () => {
  const running = await startWebhook({ withCertificate: false });
  try {
    await waitFor(
      "the wait to be logged",
      () => running.logs.some((l) => l.includes("waiting for the certificate files")),
    );
    assert.equal((await fetchFresh(`${running.health}/healthz`, [])).status, 200);
    const notReady = await fetchFresh(`${running.health}/readyz`, []);
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /no certificate/);
    await running.secret.update(await leafOf(running.ca));
    running.base = `https://127.0.0.1:${(await running.server.listening).port}`;
    assert.equal((await fetchFresh(`${running.health}/readyz`, [])).status, 200);
    const posted = await postFixture(running, "deployment_pod.json");
    assert.ok(posted.json.response.patch);
  } finally {
    await running.stop();
  }
});

Deno.test("a webhook port that is taken is reported instead of waiting forever", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir({ prefix: "coredog-webhook-" });
  const secret = await createSecretVolume(dir);
  await secret.update(await leafOf(await newCa()));
  const server = startWebhookServer({
    corefileDir: COREFILE_DIR,
    certFile: secret.certFile,
    keyFile: secret.keyFile,
    hostname: "127.0.0.1",
    port: taken.addr.port,
    logger: createLogger({ write: () => {} }),
  });
  try {
    await assert.rejects(server.listening, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}`));
  } finally {
    await server.shutdown();
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certificate swap keeps requests in flight and under load succeeding; new connections get the new certificate", async () => {
  const running = await startWebhook();
  const oldCa = running.ca;
  const newCa = await createCertificateAuthority();
  const url = `${running.base}/mutate`;
  const sample = await fixtureText("deployment_pod.json");
  const trustsBoth = Deno.createHttpClient({ caCerts: [oldCa.certPem, newCa.certPem] });
  try {
    const slow = slowRequest(url, sample, trustsBoth);
    await waitFor("the slow request to reach the handler", () => running.server.metrics.inFlight.get() === 1);

    const failures: string[] = [];
    let successes = 0;
    let stop = false;
    const load = [0, 1, 2, 3].map(async (worker) => {
      // Half the workers open a new connection per request, half keep one alive.
      const keepAlive = Deno.createHttpClient({ caCerts: [oldCa.certPem, newCa.certPem] });
      while (!stop) {
        const client = worker % 2 === 0
          ? Deno.createHttpClient({ caCerts: [oldCa.certPem, newCa.certPem] })
          : keepAlive;
        try {
          const response = await fetch(url, { method: "POST", headers: JSON_HEADERS, body: sample, client });
          const json = await response.json();
          if (response.status === 200 && json.response.patch) successes++;
          else failures.push(`status ${response.status}`);
        } catch (error) {
          failures.push((error as Error).message);
        } finally {
          if (client !== keepAlive) client.close();
        }
      }
      keepAlive.close();
    });

    await waitFor("load before the swap", () => successes >= 20);
    await running.secret.update(await leafOf(newCa));
    await waitFor("a new connection to present the new certificate", async () => {
      try {
        return (await fetchFresh(`${running.base}/healthz`, [newCa.certPem])).status === 200;
      } catch {
        return false;
      }
    });
    const atSwap = successes;
    await waitFor("load after the swap", () => successes >= atSwap + 20);
    stop = true;
    await Promise.all(load);
    assert.deepEqual(failures, []);

    slow.finish();
    const response = await slow.response;
    assert.equal(response.status, 200);
    const patched = applyPatch(podOf(JSON.parse(sample)), patchOf(await response.json()));
    assertAcceptablePod(patched);

    // The old certificate is gone for new connections.
    await assert.rejects(fetchFresh(`${running.base}/healthz`, [oldCa.certPem]));
    const metrics = running.server.metrics;
    assert.equal(metrics.certificateLoads.get({ result: "loaded" }), 2);
    assert.equal(metrics.inFlight.get(), 0);
  } finally {
    trustsBoth.close();
    await running.stop();
  }
});

Deno.test("a broken certificate update is refused and the previous certificate keeps serving", async () => {
  const running = await startWebhook();
  try {
    const other = await leafOf(await newCa());
    const current = await leafOf(running.ca);
    // A key that does not belong to the certificate.
    await running.secret.update({ certPem: current.certPem, keyPem: other.keyPem });
    await waitFor(
      "the mismatch to be reported",
      () => running.server.metrics.certificateLoads.get({ result: "failed" }) === 1,
    );
    // A CA certificate where a leaf belongs.
    await running.secret.update({ certPem: running.ca.certPem, keyPem: running.ca.keyPem });
    await waitFor(
      "the CA to be refused",
      () => running.server.metrics.certificateLoads.get({ result: "failed" }) === 2,
    );
    assert.ok(running.logs.some((l) => l.includes("cannot load the new certificate; serving the previous one")));
    assert.ok(running.logs.some((l) => l.includes("is a CA certificate")));
    assert.equal((await postFixture(running, "deployment_pod.json")).status, 200);
    assert.equal((await fetchFresh(`${running.health}/readyz`, [])).status, 200);
    // A good pair after the bad ones is taken.
    await running.secret.update(current);
    await waitFor(
      "the good pair to load",
      () => running.server.metrics.certificateLoads.get({ result: "loaded" }) === 2,
    );
    assert.equal((await postFixture(running, "deployment_pod.json")).status, 200);
  } finally {
    await running.stop();
  }
});

Deno.test("rotating the Secret many times never reports a good certificate as broken", async () => {
  // A look every millisecond races the kubelet-style swap and removal of
  // 200 rotations, so that some reads straddle a swap.
  const running = await startWebhook({ certCheckIntervalMs: 1 });
  try {
    const pairs = [await leafOf(running.ca), await leafOf(running.ca)];
    for (let i = 0; i < 200; i++) {
      await running.secret.update(pairs[i % 2]);
      await new Promise((resolve) => setTimeout(resolve, i % 3));
    }
    // Let the reloader take at least one more look after the last swap.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const metrics = running.server.metrics;
    assert.equal(metrics.certificateLoads.get({ result: "failed" }), 0, running.logs.join("\n"));
    assert.deepEqual(running.logs.filter((l) => l.includes("level=warn") || l.includes("level=error")), []);
    assert.ok(metrics.certificateLoads.get({ result: "loaded" }) >= 2);
    assert.equal((await postFixture(running, "deployment_pod.json")).status, 200);
  } finally {
    await running.stop();
  }
});

Deno.test("shutdown answers the request in flight, closes idle keep-alive connections, and only then resolves", async () => {
  const running = await startWebhook();
  const url = new URL(running.base);
  const client = Deno.createHttpClient({ caCerts: [running.ca.certPem] });
  // An idle keep-alive connection: one answered request, then nothing.
  const idle = await Deno.connectTls({ hostname: url.hostname, port: Number(url.port), caCerts: [running.ca.certPem] });
  try {
    await idle.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n"));
    const buffer = new Uint8Array(4096);
    const first = await idle.read(buffer);
    assert.match(new TextDecoder().decode(buffer.subarray(0, first ?? 0)), /^HTTP\/1\.1 200[\s\S]*ok\n$/);

    const sample = await fixtureText("deployment_pod.json");
    const slow = slowRequest(`${running.base}/mutate`, sample, client);
    await waitFor("the slow request to reach the handler", () => running.server.metrics.inFlight.get() === 1);
    let shutDown = false;
    const shutdown = running.server.shutdown().then(() => shutDown = true);
    // The idle connection is closed by the server, not left open until the client times out.
    const end = await idle.read(buffer).catch((error) => error instanceof Deno.errors.UnexpectedEof ? null : error);
    assert.equal(end, null);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(shutDown, false, "shutdown resolved while a request was in flight");
    slow.finish();
    const response = await slow.response;
    assert.equal(response.status, 200);
    assert.ok((await response.json()).response.patch);
    await shutdown;
    assert.equal(running.server.metrics.inFlight.get(), 0);
    await assert.rejects(fetchFresh(`${running.base}/healthz`, [running.ca.certPem]));
  } finally {
    idle.close();
    client.close();
    await running.stop();
  }
});

Deno.test("SIGTERM drains: not ready at once, the request in flight is answered, then the process exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-webhook-main-" });
  const secret = await createSecretVolume(dir);
  const ca = await newCa();
  await secret.update(await leafOf(ca));
  const configFile = join(dir, "coredog.yaml");
  await Deno.writeTextFile(
    configFile,
    `CorefileDir: ${COREFILE_DIR}\nStorageConfig:\n  protocol: local\n  CFSMountPath: ${dir}/bucket\n`,
  );
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const healthPort = probe.addr.port;
  probe.close();
  const child = new Deno.Command(Deno.execPath(), {
    // The task's own permissions, which the compiled binary has too.
    args: [
      ...taskRunArgs("webhook"),
      "--config",
      configFile,
      "--port=0",
      "--host",
      "127.0.0.1",
      "--health-port",
      String(healthPort),
      "--shutdown-delay",
      "0",
    ],
    env: { COREDOG_WEBHOOK_TLS_CERT: secret.certFile, COREDOG_WEBHOOK_TLS_KEY: secret.keyFile, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const reading = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (output += chunk) }),
  );
  let errors = "";
  const readingErrors = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (errors += chunk) }),
  );
  let exited = false;
  const exit = child.status.finally(() => exited = true);
  const client = Deno.createHttpClient({ caCerts: [ca.certPem] });
  try {
    await waitFor(
      "the webhook to listen",
      () => {
        if (exited) throw new Error(`the webhook exited early:\n${output}\n${errors}`);
        return logLine(output, "webhook listening") !== undefined;
      },
      60000,
    ).catch((error) => {
      throw new Error(`${error.message}\nstdout:\n${output}\nstderr:\n${errors}`);
    });
    const port = Number(logLine(output, "webhook listening")!.match(/ address=127\.0\.0\.1:(\d+)/)![1]);
    const health = `http://127.0.0.1:${healthPort}`;
    const sample = await fixtureText("deployment_pod.json");
    const slow = slowRequest(`https://127.0.0.1:${port}/mutate`, sample, client);
    await waitFor("the request to be in flight", async () => {
      const metrics = await (await fetch(`${health}/metrics`)).text();
      return metrics.includes("coredog_webhook_requests_in_flight 1");
    });

    child.kill("SIGTERM");
    await waitFor(
      "readiness to drop",
      async () => (await fetch(`${health}/readyz`).then((r) => r.text())).startsWith("not ready"),
    );
    slow.finish();
    const response = await slow.response;
    assert.equal(response.status, 200);
    assert.ok((await response.json()).response.patch);

    const status = await exit;
    await Promise.all([reading, readingErrors]);
    assert.equal(status.code, 0, errors);
    assert.match(logLine(output, "shutting down; finishing requests in flight") ?? "", / signal=SIGTERM/);
    assert.ok(logLine(output, "coredog webhook stopped"), output);
    await assert.rejects(fetchFresh(`https://127.0.0.1:${port}/healthz`, [ca.certPem]));
  } finally {
    client.close();
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await Deno.remove(dir, { recursive: true });
  }
});

/** The first logfmt line of `output` whose message is `msg`. */
function logLine(output: string, msg: string): string | undefined {
  return output.split("\n").find((line) => line.includes(` msg="${msg}"`));
}

Deno.test({
  name: "the local webhook's documented curl command prints the decoded patch of the sample",
  ignore: !hasTools("curl", "jq", "base64"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-dev-" });
    const logs: string[] = [];
    const webhook = await startDevWebhook({
      dir,
      corefileDir: "/tmp/coredog-dev/dumps",
      port: 0,
      logger: createLogger({ write: (line) => logs.push(line) }),
    });
    try {
      // The sample is the dev webhook's own file, not a test fixture: the command works outside the repository.
      assert.equal(webhook.sampleFile, join(dir, "webhook-sample.json"));
      assert.ok(webhook.curlExample.includes(`--data-binary @${webhook.sampleFile} `), webhook.curlExample);
      assert.doesNotMatch(webhook.curlExample, /tests\//);
      const output = await new Deno.Command("sh", {
        args: ["-c", webhook.curlExample],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.ok(output.success, stderr);
      const operations = JSON.parse(new TextDecoder().decode(output.stdout));
      const review = JSON.parse(await Deno.readTextFile(webhook.sampleFile));
      const patched = applyPatch(podOf(review), operations);
      assertAcceptablePod(patched);
      assert.deepEqual(coredogMounts(patched, "/corefile"), { app: "team-a/$(COREDOG_POD_NAME)/app" });
      assert.deepEqual(patched.spec.volumes, [
        { name: "coredog-corefile", hostPath: { path: "/tmp/coredog-dev/dumps", type: "DirectoryOrCreate" } },
      ]);
      // A restart reuses the certificate, so a saved command with --cacert keeps working.
      const before = await Deno.readTextFile(webhook.caFile);
      await webhook.server.shutdown();
      const again = await startDevWebhook({
        dir,
        corefileDir: "/tmp/coredog-dev/dumps",
        port: 0,
        logger: createLogger({ write: () => {} }),
      });
      assert.equal(await Deno.readTextFile(again.caFile), before);
      await again.server.shutdown();
    } finally {
      await webhook.server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
