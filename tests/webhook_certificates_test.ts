import assert from "node:assert/strict";
import { createCertificateAuthority, describeCertificate, issueServingCertificate } from "../src/tls/certificates.ts";

async function serveOnce(pair: { certPem: string; keyPem: string }, caCerts: string[], host: string): Promise<string> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: pair.certPem, key: pair.keyPem, onListen() {} },
    () => new Response("hello over TLS"),
  );
  const client = Deno.createHttpClient({ caCerts });
  try {
    const response = await fetch(`https://${host}:${server.addr.port}/`, { client });
    return await response.text();
  } finally {
    client.close();
    await server.shutdown();
  }
}

Deno.test("a serving certificate from the CA is trusted by a client that trusts only the CA", async () => {
  const ca = await createCertificateAuthority();
  const leaf = await issueServingCertificate(ca, {
    dnsNames: ["localhost", "coredog-webhook.coredog-system.svc"],
    ipAddresses: ["127.0.0.1"],
  });
  assert.equal(await serveOnce(leaf, [ca.certPem], "127.0.0.1"), "hello over TLS");
  assert.equal(await serveOnce(leaf, [ca.certPem], "localhost"), "hello over TLS");
  const stranger = await createCertificateAuthority();
  await assert.rejects(serveOnce(leaf, [stranger.certPem], "127.0.0.1"));
});

Deno.test("the certificates say what they are: CA or leaf, names, validity", async () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const ca = await createCertificateAuthority({ commonName: "Test CA", validityDays: 30, now });
  const leaf = await issueServingCertificate(ca, {
    dnsNames: ["coredog-webhook.coredog-system.svc"],
    ipAddresses: ["10.0.0.7"],
    validityDays: 365,
    now,
  });
  const caInfo = describeCertificate(ca.certPem);
  assert.equal(caInfo.isCa, true);
  assert.equal(caInfo.subject, "CN=Test CA");
  const leafInfo = describeCertificate(leaf.certPem);
  assert.equal(leafInfo.isCa, false);
  assert.equal(leafInfo.issuer, "CN=Test CA");
  assert.equal(leafInfo.subject, "CN=coredog-webhook.coredog-system.svc");
  assert.deepEqual(leafInfo.dnsNames, ["coredog-webhook.coredog-system.svc"]);
  assert.deepEqual(leafInfo.ipAddresses, ["10.0.0.7"]);
  // Backdated for clock skew, and never outliving the CA that signed it.
  assert.ok(leafInfo.notBefore < now);
  assert.equal(leafInfo.notAfter.getTime(), caInfo.notAfter.getTime());
  assert.equal(leaf.notAfter.getTime(), caInfo.notAfter.getTime());
  assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----/);
});

Deno.test("a CA kept as PEM issues again later, and each leaf has its own key and serial", async () => {
  const ca = await createCertificateAuthority();
  const stored = { certPem: ca.certPem, keyPem: ca.keyPem, notAfter: ca.notAfter };
  const first = await issueServingCertificate(stored, { dnsNames: ["localhost"] });
  const second = await issueServingCertificate(stored, { dnsNames: ["localhost"] });
  assert.notEqual(first.keyPem, second.keyPem);
  assert.notEqual(describeCertificate(first.certPem).serialNumber, describeCertificate(second.certPem).serialNumber);
  assert.equal(await serveOnce(second, [ca.certPem], "localhost"), "hello over TLS");
});

Deno.test("a serving certificate without any name is refused, as Go clients would refuse it", async () => {
  const ca = await createCertificateAuthority();
  await assert.rejects(issueServingCertificate(ca, {}), /at least one DNS name or IP address/);
  await assert.rejects(
    issueServingCertificate({ ...ca, keyPem: "not a key" }, { dnsNames: ["x"] }),
    /CA key is not a PEM private key/,
  );
});
