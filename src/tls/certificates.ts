/**
 * A certificate authority and the serving certificates it issues, as PEM
 * strings: ECDSA P-256 keys, SHA-256 signatures.
 *
 * Used by the tests and `deno task dev` for throwaway certificates, and
 * meant for the webhook's self-managed CA: everything goes in and out as
 * PEM so that a CA kept in a Secret can issue again after a restart.
 *
 * The one X.509 library here is `@peculiar/x509`: it issues, parses and
 * checks certificates. `node:crypto` only reads private keys of any kind
 * (PKCS#8, PKCS#1 RSA, SEC1 EC) for {@linkcode checkServingPair}, because
 * WebCrypto reads PKCS#8 alone and cert-manager writes PKCS#1 by default.
 *
 * TLS servers refuse a CA certificate as the end-entity certificate, so a
 * server always gets a leaf issued by a CA, never a self-signed one.
 *
 * @example
 * ```ts
 * const ca = await createCertificateAuthority();
 * const leaf = await issueServingCertificate(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
 * Deno.serve({ port: 8443, cert: leaf.certPem, key: leaf.keyPem }, () => new Response("ok"));
 * ```
 *
 * @module
 */

import "reflect-metadata";
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey } from "node:crypto";
import * as x509 from "@peculiar/x509";

const KEY_ALGORITHM: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALGORITHM: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** How far back `notBefore` is set, so that a node whose clock lags a little still accepts a new certificate. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

x509.cryptoProvider.set(crypto);

/** A certificate and its private key, both PEM. */
export interface CertifiedKey {
  /** The certificate, PEM (`-----BEGIN CERTIFICATE-----`). */
  certPem: string;
  /** The private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string;
  /** End of validity. */
  notAfter: Date;
}

/** A CA that can issue certificates; its `certPem` is the caBundle clients trust. */
export type CertificateAuthority = CertifiedKey;

/** Options of {@linkcode createCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  /** Subject common name; "CoreDog webhook CA" by default. */
  commonName?: string;
  /** Validity in days; 3650 by default. */
  validityDays?: number;
  /** Start of validity (before backdating); now by default. */
  now?: Date;
}

/** Creates a new self-signed CA with a fresh key pair. */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const { notBefore, notAfter } = validity(options.now, options.validityDays ?? 3650);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: distinguishedName(options.commonName ?? "CoreDog webhook CA"),
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      // pathLength 0: this CA issues leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKeyPem(keys.privateKey), notAfter };
}

/** Options of {@linkcode issueServingCertificate}. */
export interface ServingCertificateOptions {
  /** DNS names, e.g. `coredog-webhook.coredog-system.svc`; the first is also the common name. */
  dnsNames?: string[];
  /** IP addresses, e.g. `127.0.0.1`. */
  ipAddresses?: string[];
  /** Validity in days; 365 by default. */
  validityDays?: number;
  /** Start of validity (before backdating); now by default. */
  now?: Date;
}

/**
 * Issues a TLS server certificate signed by `ca`, with a fresh key pair.
 *
 * @throws {Error} when neither a DNS name nor an IP address is given: Go
 * clients such as kube-apiserver ignore the common name and need a SAN.
 */
export async function issueServingCertificate(
  ca: CertificateAuthority,
  options: ServingCertificateOptions,
): Promise<CertifiedKey> {
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  if (dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new Error("a serving certificate needs at least one DNS name or IP address");
  }
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const wanted = validity(options.now, options.validityDays ?? 365);
  const notBefore = wanted.notBefore;
  // A leaf must not outlive its issuer: clients would reject it once the CA expires anyway.
  const notAfter = wanted.notAfter < caCert.notAfter ? wanted.notAfter : caCert.notAfter;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: distinguishedName(dnsNames[0] ?? ipAddresses[0]),
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportKeyPem(keys.privateKey),
    notAfter,
  };
}

/** What a PEM certificate says about itself. */
export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
  isCa: boolean;
}

/**
 * Reads the first certificate of a PEM bundle.
 *
 * @throws {Error} when `pem` holds no parsable certificate.
 */
export function describeCertificate(pem: string): CertificateSummary {
  const cert = new x509.X509Certificate(firstCertificatePem(pem));
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === "ip").map((n) => n.value),
    isCa: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
  };
}

/** Every certificate of a PEM bundle, each as its own PEM block, in order. */
export function splitCertificates(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

/**
 * True when the first certificate of `certPem` was signed by the key of the
 * first certificate of `caPem` (names and signature checked, not validity).
 */
export async function isIssuedBy(certPem: string, caPem: string): Promise<boolean> {
  try {
    const cert = new x509.X509Certificate(firstCertificatePem(certPem));
    const ca = new x509.X509Certificate(firstCertificatePem(caPem));
    if (cert.issuer !== ca.subject) return false;
    return await cert.verify({ publicKey: ca, signatureOnly: true });
  } catch {
    return false;
  }
}

/**
 * True when `keyPem` (PKCS#8 ECDSA P-256) is the private key of the first
 * certificate of `certPem`; false for anything unreadable.
 */
export async function keyMatchesCertificate(certPem: string, keyPem: string): Promise<boolean> {
  try {
    const cert = new x509.X509Certificate(firstCertificatePem(certPem));
    const publicKey = await cert.publicKey.export(KEY_ALGORITHM, ["verify"]);
    const fromCert = await crypto.subtle.exportKey("jwk", publicKey);
    const der = x509.PemConverter.decodeFirst(keyPem);
    const privateKey = await crypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, true, ["sign"]);
    const fromKey = await crypto.subtle.exportKey("jwk", privateKey);
    return fromCert.x === fromKey.x && fromCert.y === fromKey.y;
  } catch {
    return false;
  }
}

/**
 * Refuses a certificate and key that would fail every TLS handshake, so
 * that a server can keep its previous pair instead: the certificate must
 * be a PEM X.509 leaf (not a CA) and the key its private key, in any PEM
 * form a TLS server reads.
 *
 * @throws {Error} naming what is wrong with the pair and how to fix it.
 */
export function checkServingPair(pair: { certPem: string; keyPem: string }): void {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(firstCertificatePem(pair.certPem));
  } catch (error) {
    throw new Error(`the certificate is not a PEM X.509 certificate: ${(error as Error).message}`);
  }
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw new Error("the certificate is a CA certificate; serve a leaf certificate issued by the CA");
  }
  let fromKey: string;
  try {
    fromKey = JSON.stringify(createPublicKey(createPrivateKey(pair.keyPem)).export({ format: "jwk" }));
  } catch (error) {
    throw new Error(`the key is not a PEM private key: ${(error as Error).message}`);
  }
  const spki = Buffer.from(cert.publicKey.rawData);
  const fromCert = JSON.stringify(
    createPublicKey({ key: spki, format: "der", type: "spki" }).export({ format: "jwk" }),
  );
  if (fromKey !== fromCert) {
    throw new Error("the certificate and key cannot serve TLS: the key does not match the certificate");
  }
}

function firstCertificatePem(pem: string): string {
  const match = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  if (!match) throw new Error("no PEM certificate found");
  return match[0];
}

function validity(now: Date | undefined, days: number): { notBefore: Date; notAfter: Date } {
  if (!(days > 0)) throw new Error(`validityDays must be positive, got ${days}`);
  const start = (now ?? new Date()).getTime();
  return { notBefore: new Date(start - BACKDATE_MS), notAfter: new Date(start + days * DAY_MS) };
}

function distinguishedName(commonName: string): string {
  // Escape the characters RFC 4514 gives a meaning to, so a name with a comma stays one attribute.
  return `CN=${commonName.replace(/([,+"\\<>;=])/g, "\\$1")}`;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // A positive serial: DER integers with the top bit set would read as negative.
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  let der: ArrayBuffer;
  try {
    der = x509.PemConverter.decodeFirst(pem);
  } catch {
    throw new Error("the CA key is not a PEM private key");
  }
  try {
    return await crypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, false, ["sign"]);
  } catch (error) {
    throw new Error(`the CA key is not a PKCS#8 ECDSA P-256 key: ${(error as Error).message}`);
  }
}
