import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import {
  checkServingPair,
  createCertificateAuthority,
  describeCertificate,
  issueServingCertificate,
} from "../src/tls/certificates.ts";
import { serveTls } from "../src/webhook/tls_server.ts";

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

Deno.test("a pair is checked before it serves: a key in SEC1 form serves, a wrong key, a CA or junk is refused", async () => {
  const ca = await createCertificateAuthority();
  const leaf = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] });
  // cert-manager writes EC keys as SEC1 ("EC PRIVATE KEY") and RSA keys as PKCS#1 by default.
  const sec1 = createPrivateKey(leaf.keyPem).export({ type: "sec1", format: "pem" }) as string;
  assert.match(sec1, /^-----BEGIN EC PRIVATE KEY-----/);
  const server = serveTls({ certPem: leaf.certPem, keyPem: sec1 }, {
    port: 0,
    hostname: "127.0.0.1",
    handler: () => new Response("served with the SEC1 key"),
  });
  const client = Deno.createHttpClient({ caCerts: [ca.certPem] });
  try {
    const response = await fetch(`https://127.0.0.1:${(await server.listening).port}/`, { client });
    assert.equal(await response.text(), "served with the SEC1 key");
  } finally {
    client.close();
    await server.shutdown();
  }
  const other = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] });
  assert.throws(
    () => checkServingPair({ certPem: leaf.certPem, keyPem: other.keyPem }),
    /the key does not match the certificate/,
  );
  assert.throws(() => checkServingPair(ca), /is a CA certificate; serve a leaf certificate issued by the CA/);
  assert.throws(() => checkServingPair({ certPem: "junk", keyPem: leaf.keyPem }), /not a PEM X.509 certificate/);
  assert.throws(() => checkServingPair({ certPem: leaf.certPem, keyPem: "junk" }), /not a PEM private key/);
  assert.throws(
    () => serveTls({ certPem: leaf.certPem, keyPem: other.keyPem }, { port: 0, handler: () => new Response() }),
    /the key does not match/,
  );
});
