/**
 * Self-managed TLS against a fake kube-apiserver over real HTTPS that keeps
 * the Secret and the MutatingWebhookConfiguration the chart creates (their
 * recorded shapes in tests/fixtures/kube/) and answers stale writes with
 * 409 Conflict, as the real API does. No kube-apiserver can run here.
 */

import assert from "node:assert/strict";
import { KubeClient } from "../src/kube/client.ts";
import { createLogger } from "../src/log.ts";
import { describeCertificate, isIssuedBy, splitCertificates } from "../src/tls/certificates.ts";
import { fromBase64, sameCertificates } from "../src/tls/serving_bundle.ts";
import {
  reconcileTls,
  type SelfManagedTlsOptions,
  serviceDnsNames,
  startSelfManagedTls,
  type TlsApi,
} from "../src/webhook/self_managed_tls.ts";
import { startWebhookServer } from "../src/webhook/server.ts";
import { COREFILE_DIR, fixtureText } from "./support/admission.ts";
import { type FakeKubeApi, type RequestAttributes, startFakeKubeApi } from "./support/fake_kube_api.ts";
import { waitFor } from "./support/harness.ts";
import { requestViaService } from "./support/service_tls_client.ts";

const SECRET = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/kube/secret_webhook_tls_empty.json", import.meta.url)),
);
const CONFIGURATION = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/kube/mutatingwebhookconfiguration_coredog.json", import.meta.url)),
);
const NAMESPACE = "coredog-system";
const SERVICE_NAME = "coredog-webhook.coredog-system.svc";
const DAY_MS = 24 * 60 * 60 * 1000;
/** Three weeks ago, so that the certificates of "day 21" are valid for a TLS client now. */
const T0 = new Date(Date.now() - 21 * DAY_MS);

interface Setup {
  dir: string;
  api: FakeKubeApi;
  client: KubeClient;
  logs: string[];
  /** Options for a replica. */
  options(extra?: Partial<SelfManagedTlsOptions>): SelfManagedTlsOptions;
  secretData(): Record<string, string>;
  caBundle(): string;
  cleanup(): Promise<void>;
}

async function setup(fake: Parameters<typeof startFakeKubeApi>[1] = {}): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "coredog-selftls-" });
  const api = await startFakeKubeApi({}, {
    secrets: { [`${NAMESPACE}/coredog-webhook-tls`]: SECRET },
    mutatingWebhookConfigurations: { coredog: CONFIGURATION },
    ...fake,
  });
  await Deno.writeTextFile(`${dir}/ca.crt`, api.caPem);
  await Deno.writeTextFile(`${dir}/token`, "webhook-token");
  const client = new KubeClient({ apiUrl: api.url, tokenPath: `${dir}/token`, caPath: `${dir}/ca.crt` });
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  return {
    dir,
    api,
    client,
    logs,
    options: (extra = {}) => ({
      namespace: NAMESPACE,
      secretName: "coredog-webhook-tls",
      serviceName: "coredog-webhook",
      webhookConfigurationName: "coredog",
      caValidityDays: 3650,
      certValidityDays: 365,
      logger,
      ...extra,
    }),
    secretData: () => api.secrets.get(`${NAMESPACE}/coredog-webhook-tls`)!.data as Record<string, string>,
    caBundle: () => {
      const webhooks = api.mutatingWebhookConfigurations.get("coredog")!.webhooks as {
        clientConfig: { caBundle?: string };
      }[];
      return fromBase64(webhooks[0].clientConfig.caBundle ?? "");
    },
    async cleanup() {
      await api.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function secretPem(data: Record<string, string>, key: string): string {
  return fromBase64(data[key] ?? "");
}

Deno.test("on first start the webhook fills the empty Secret, patches the caBundle, and serves what kube-apiserver would trust", async () => {
  const s = await setup();
  const server = startWebhookServer({
    corefileDir: COREFILE_DIR,
    hostname: "127.0.0.1",
    port: 0,
    healthPort: 0,
    logger: createLogger({ write: () => {} }),
  });
  const handedOver: string[] = [];
  const tls = startSelfManagedTls(s.client, {
    ...s.options(),
    checkIntervalMs: 3_600_000,
    onCertificate: (pair) => {
      handedOver.push(pair.certPem);
      server.useCertificate(pair);
    },
  });
  try {
    await tls.firstPass;
    const addr = await server.listening;
    const data = s.secretData();
    const ca = secretPem(data, "ca.crt");
    const cert = secretPem(data, "tls.crt");
    assert.equal(describeCertificate(ca).isCa, true);
    assert.match(secretPem(data, "ca.key"), /^-----BEGIN PRIVATE KEY-----/);
    assert.deepEqual(describeCertificate(cert).dnsNames, serviceDnsNames("coredog-webhook", NAMESPACE));
    assert.ok(await isIssuedBy(cert, ca));
    assert.equal(secretPem(data, "ca-bundle.crt"), ca);
    assert.equal(s.caBundle(), ca, "the caBundle is the CA bundle of the Secret");

    // Only the caBundle changed in the configuration; the Secret kept its type, labels and Helm annotations.
    const configuration = structuredClone(s.api.mutatingWebhookConfigurations.get("coredog")!);
    const webhook = (configuration.webhooks as Record<string, Record<string, unknown>>[])[0];
    delete webhook.clientConfig.caBundle;
    configuration.metadata.resourceVersion = CONFIGURATION.metadata.resourceVersion;
    assert.deepEqual(configuration, CONFIGURATION);
    const secret = s.api.secrets.get(`${NAMESPACE}/coredog-webhook-tls`)!;
    assert.equal(secret.type, "Opaque");
    assert.deepEqual(secret.metadata.annotations, SECRET.metadata.annotations);

    // kube-apiserver's view: TLS for coredog-webhook.coredog-system.svc, trusting the caBundle only.
    const review = await fixtureText("deployment_pod.json");
    const answer = await requestViaService(addr.port, { serverName: SERVICE_NAME, caPem: s.caBundle(), body: review });
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body).response.patchType, "JSONPatch");
    await assert.rejects(
      requestViaService(addr.port, { serverName: "other.coredog-system.svc", caPem: s.caBundle(), body: review }),
    );

    // Served from memory, straight from the Secret it wrote.
    assert.deepEqual(handedOver, [cert]);
    assert.ok(s.logs.some((l) => l.includes('msg="renewed the webhook\'s TLS material"') && l.includes("none yet")));
    assert.ok(s.logs.some((l) => l.includes('msg="patched the caBundle of the webhook configuration"')));
  } finally {
    await tls.stop();
    await server.shutdown();
    await s.cleanup();
  }
});

Deno.test("two replicas starting together: one write wins, the other gets a 409, re-reads and adopts the same CA and certificate", async () => {
  let secretReads = 0;
  const s = await setup({
    async beforeHandling(request: RequestAttributes) {
      if (request.resource !== "secrets") return;
      if (request.verb === "get") secretReads++;
      // Both replicas have read the empty Secret before either writes: a real race, in a fixed order.
      if (request.verb === "update") await waitFor("both replicas read the Secret", () => secretReads >= 2);
    },
  });
  try {
    const [a, b] = await Promise.all([
      reconcileTls(s.client, s.options()),
      reconcileTls(s.client, s.options()),
    ]);
    const updates = s.api.requests.filter((r) => r.resource === "secrets" && r.verb === "update");
    assert.equal(updates.length, 2, "both replicas tried to write");
    const [winner, loser] = a.changes.length > 0 ? [a, b] : [b, a];
    assert.ok(winner.changes.length > 0);
    assert.deepEqual(loser.changes, [], "the loser adopted what the winner wrote instead of writing its own");
    assert.ok(loser.conflicts >= 1);
    assert.ok(s.logs.some((l) => l.includes("another replica updated the TLS Secret first; adopting what it wrote")));

    const data = s.secretData();
    for (const replica of [a, b]) {
      assert.equal(replica.certificate.certPem, secretPem(data, "tls.crt"));
      assert.equal(replica.certificate.keyPem, secretPem(data, "tls.key"));
    }
    assert.equal(s.caBundle(), secretPem(data, "ca-bundle.crt"));
    assert.equal(splitCertificates(s.caBundle()).length, 1, "one CA, not one per replica");

    // A later pass by either replica changes nothing.
    const again = await reconcileTls(s.client, s.options());
    assert.deepEqual(again, { ...again, changes: [], patchedCaBundle: false, conflicts: 0 });
    assert.deepEqual(again.certificate, a.certificate);
  } finally {
    await s.cleanup();
  }
});

Deno.test("renewal: the certificate is renewed at two thirds of its life, and a new CA is trusted before it signs", async () => {
  const s = await setup();
  const server = startWebhookServer({
    corefileDir: COREFILE_DIR,
    hostname: "127.0.0.1",
    port: 0,
    logger: createLogger({ write: () => {} }),
  });
  let now = T0;
  const options = s.options({ caValidityDays: 30, certValidityDays: 9, now: () => now });
  // One pass, and the pair handed to the server as startSelfManagedTls does.
  const pass = async (passOptions: SelfManagedTlsOptions) => {
    const result = await reconcileTls(s.client, passOptions);
    server.useCertificate(result.certificate);
    return result;
  };
  const served = () => server.metrics.certificateNotAfter.get() * 1000;
  try {
    const first = await pass(options);
    await server.listening;
    const ca1 = secretPem(s.secretData(), "ca.crt");
    assert.equal(served(), Math.floor(first.notAfter.getTime() / 1000) * 1000);

    // Day 5: more than a third of the 9 days left: nothing to do.
    now = new Date(T0.getTime() + 5 * DAY_MS);
    assert.deepEqual((await pass(options)).changes, []);

    // Day 7: less than a third left: a new certificate from the same CA; the caBundle stays as it is.
    now = new Date(T0.getTime() + 7 * DAY_MS);
    const renewed = await pass(options);
    assert.equal(renewed.changes.length, 1);
    assert.match(renewed.changes[0], /^new serving certificate: it expires at .*renewed at two thirds of its life$/);
    assert.equal(renewed.patchedCaBundle, false);
    assert.ok(renewed.notAfter > first.notAfter);
    assert.equal(
      served(),
      Math.floor(renewed.notAfter.getTime() / 1000) * 1000,
      "the server serves the new certificate",
    );
    assert.equal(secretPem(s.secretData(), "ca.crt"), ca1);

    // Day 21: the CA has less than a third of its 30 days left. Step one: the new CA joins the caBundle,
    // and the certificate keeps coming from the old CA, which kube-apiserver trusts already.
    now = new Date(T0.getTime() + 21 * DAY_MS);
    await pass({ ...options, now: () => new Date(T0.getTime() + 17 * DAY_MS) });
    const beforeRotation = secretPem(s.secretData(), "tls.crt");
    const rotated = await pass(options);
    const ca2 = secretPem(s.secretData(), "ca.crt");
    assert.notEqual(ca2, ca1);
    assert.deepEqual(rotated.changes.map((c) => c.replace(/:.*/, "")), ["new CA"]);
    assert.equal(rotated.patchedCaBundle, true);
    assert.deepEqual(splitCertificates(s.caBundle()), [ca2, ca1], "new CA first, old CA still trusted");
    assert.equal(
      secretPem(s.secretData(), "tls.crt"),
      beforeRotation,
      "the certificate waits for the new CA to be trusted",
    );
    assert.ok(s.logs.some((l) => l.includes("moves to the new CA once kube-apiserver trusts it")));

    // Step two, next pass: kube-apiserver trusts the new CA, so the certificate moves to it.
    const moved = await pass(options);
    assert.deepEqual(moved.changes, ["new serving certificate: issued by a previous CA"]);
    assert.equal(moved.patchedCaBundle, false);
    assert.ok(await isIssuedBy(secretPem(s.secretData(), "tls.crt"), ca2));
    // Three swaps within a second: the last one is served once the handovers before it are over.
    const addr = await server.listening;
    await waitFor("the certificate from the new CA to serve", async () => {
      const answer = await requestViaService(addr.port, {
        serverName: SERVICE_NAME,
        caPem: ca2,
        method: "GET",
        path: "/healthz",
      }).catch(() => undefined);
      return answer?.status === 200;
    });

    // Day 40: the old CA expired and leaves the bundle.
    now = new Date(T0.getTime() + 40 * DAY_MS);
    await pass(options);
    assert.equal(splitCertificates(s.caBundle()).some((pem) => pem === ca1), false);
  } finally {
    await server.shutdown();
    await s.cleanup();
  }
});

Deno.test("a replica that patched a stale caBundle while another rotated the CA puts the right one back before serving", async () => {
  const s = await setup();
  try {
    await reconcileTls(s.client, s.options({ caValidityDays: 30, now: () => T0 }));

    // Replica B reads the Secret; before it goes on, replica A, whose clock is 200 s ahead, finds the CA
    // past two thirds of its life, rotates it and patches. B's clock still says the old CA is fine.
    let first = true;
    let bRead!: () => void;
    const bHasRead = new Promise<void>((resolve) => bRead = resolve);
    let aDone!: () => void;
    const aHasFinished = new Promise<void>((resolve) => aDone = resolve);
    const slowB: TlsApi = {
      getSecret: async (namespace, name) => {
        const secret = await s.client.getSecret(namespace, name);
        if (first) {
          first = false;
          bRead();
          await aHasFinished;
        }
        return secret;
      },
      updateSecret: (secret) => s.client.updateSecret(secret),
      getMutatingWebhookConfiguration: (name) => s.client.getMutatingWebhookConfiguration(name),
      patchMutatingWebhookConfiguration: (name, patch) => s.client.patchMutatingWebhookConfiguration(name, patch),
    };
    const day20 = new Date(T0.getTime() + 20 * DAY_MS);
    const bNow = new Date(day20.getTime() - 200_000);
    const b = reconcileTls(slowB, s.options({ caValidityDays: 30, now: () => bNow }));
    await bHasRead;
    const rotated = await reconcileTls(s.client, s.options({ caValidityDays: 30, now: () => day20 }));
    assert.deepEqual(rotated.changes.map((c) => c.replace(/:.*/, "")), ["new CA"]);
    aDone();
    const result = await b;

    // B patched the old bundle over A's, read the Secret again, saw it had changed, and patched the new one.
    assert.ok(result.conflicts >= 1);
    const patches = s.api.requests.filter((r) => r.resource === "mutatingwebhookconfigurations" && r.verb === "patch");
    assert.equal(patches.length, 4, "A at install, A after rotating, B stale, B again");
    assert.equal(s.caBundle(), secretPem(s.secretData(), "ca-bundle.crt"));
    assert.equal(splitCertificates(s.caBundle()).length, 2);
  } finally {
    await s.cleanup();
  }
});

Deno.test("without the Secret or the RBAC rules the webhook says why, stays unready and retries; it serves once allowed", async () => {
  let allowed = false;
  const s = await setup({ authorize: (r) => allowed || !(r.resource === "secrets" && r.verb === "update") });
  const server = startWebhookServer({
    corefileDir: COREFILE_DIR,
    hostname: "127.0.0.1",
    port: 0,
    healthPort: 0,
    logger: createLogger({ write: () => {} }),
  });
  const tls = startSelfManagedTls(s.client, {
    ...s.options(),
    checkIntervalMs: 200,
    onCertificate: (pair) => server.useCertificate(pair),
  });
  try {
    await waitFor("a refused write", () => s.api.forbidden.length > 0);
    await waitFor("the error in the log", () => s.logs.some((l) => l.includes("cannot set up the webhook's TLS")));
    const line = s.logs.find((l) => l.includes("cannot set up the webhook's TLS"))!;
    assert.match(line, /level=error/);
    assert.match(
      line,
      /cannot update resource \\"secrets\\" in API group \\"\\" in the namespace \\"coredog-system\\"/,
    );
    const ready = await fetch(`http://127.0.0.1:${server.healthAddr!.port}/readyz`);
    assert.equal(ready.status, 503);
    await ready.body?.cancel();

    allowed = true;
    await tls.firstPass;
    await server.listening;
    assert.equal(server.ready(), true);
  } finally {
    await tls.stop();
    await server.shutdown();
    await s.cleanup();
  }

  const missing = await setup({ secrets: {} });
  try {
    await assert.rejects(
      reconcileTls(missing.client, missing.options()),
      /Secret coredog-system\/coredog-webhook-tls not found; the chart creates it empty/,
    );
  } finally {
    await missing.cleanup();
  }
});

Deno.test("a Secret emptied by hand or by a forced upgrade is filled again and the caBundle follows", async () => {
  const s = await setup();
  try {
    await reconcileTls(s.client, s.options());
    const oldCa = secretPem(s.secretData(), "ca.crt");
    const secret = s.api.secrets.get(`${NAMESPACE}/coredog-webhook-tls`)!;
    delete secret.data;
    const result = await reconcileTls(s.client, s.options());
    assert.ok(result.changes.some((c) => c.startsWith("new CA: none yet")));
    const newCa = secretPem(s.secretData(), "ca.crt");
    assert.notEqual(newCa, oldCa);
    assert.equal(s.caBundle(), newCa);
    assert.equal(sameCertificates(result.certificate.certPem, secretPem(s.secretData(), "tls.crt")), true);
    assert.ok(await isIssuedBy(result.certificate.certPem, newCa));
  } finally {
    await s.cleanup();
  }
});
