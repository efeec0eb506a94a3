/**
 * The key material a self-managed webhook keeps in its Secret, and the
 * decision of what to renew: a CA, a serving certificate issued by it, and
 * the bundle of CAs kube-apiserver must trust.
 *
 * Both are renewed once two thirds of their lifetime have passed, as
 * cert-manager does, so a failing renewal has a third of the lifetime to be
 * noticed. A new CA is trusted before it is used: the bundle gets the new
 * CA next to the old one, and the serving certificate moves to the new CA
 * only once kube-apiserver trusts it (the caller says so), so no request
 * meets a certificate that the apiserver cannot verify. Old CAs stay in the
 * bundle until they expire, for replicas still serving a certificate they
 * signed.
 *
 * @module
 */

import {
  createCertificateAuthority,
  describeCertificate,
  isIssuedBy,
  issueServingCertificate,
  keyMatchesCertificate,
  splitCertificates,
} from "./certificates.ts";

/** The Secret's keys; `tls.crt`/`tls.key`/`ca.crt` as in a `kubernetes.io/tls` Secret. */
export const SECRET_KEYS = {
  caCertPem: "ca.crt",
  caKeyPem: "ca.key",
  certPem: "tls.crt",
  keyPem: "tls.key",
  trustPem: "ca-bundle.crt",
} as const;

/** Everything the Secret holds, PEM. */
export interface ServingBundle {
  /** The CA that issues serving certificates now. */
  caCertPem: string;
  caKeyPem: string;
  /** The serving certificate (a leaf) and its key. */
  certPem: string;
  keyPem: string;
  /** The CAs kube-apiserver must trust (the `caBundle`): the current one first, then older ones not yet expired. */
  trustPem: string;
}

/** When and for whom to issue. */
export interface BundlePolicy {
  /** The names the serving certificate must carry, e.g. `coredog-webhook.coredog-system.svc`. */
  dnsNames: string[];
  now: Date;
  caValidityDays: number;
  certValidityDays: number;
  /** The CAs kube-apiserver trusts at the moment (from the webhook configuration's `caBundle`). */
  trustedCaPems: string[];
}

/** What {@linkcode planBundle} decided. */
export interface BundlePlan {
  bundle: ServingBundle;
  /** What was renewed and why, for the log; empty when the Secret is fine as it is. */
  changes: string[];
  /** A serving certificate from a new CA waits until kube-apiserver trusts that CA. */
  waiting?: string;
}

/** Reads the Secret's `data` (base64 values); missing keys stay undefined. */
export function bundleFromSecretData(data: Record<string, string> | undefined): Partial<ServingBundle> {
  const bundle: Partial<ServingBundle> = {};
  for (const [field, key] of Object.entries(SECRET_KEYS) as [keyof ServingBundle, string][]) {
    const value = data?.[key];
    if (!value) continue;
    // Not base64 reads as empty, so it is treated as missing and issued anew.
    const text = fromBase64(value);
    if (text) bundle[field] = text;
  }
  return bundle;
}

/** The Secret's `data` (base64 values) for `bundle`. */
export function secretDataFromBundle(bundle: ServingBundle): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, key] of Object.entries(SECRET_KEYS) as [keyof ServingBundle, string][]) {
    data[key] = base64(bundle[field]);
  }
  return data;
}

/** `text` as base64 of its UTF-8 bytes (the form of Secret data and of a `caBundle`). */
export function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The UTF-8 text of base64 `value`; empty when it is not base64. */
export function fromBase64(value: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
  } catch {
    return "";
  }
}

/** True when two PEM bundles hold the same certificates in the same order. */
export function sameCertificates(a: string, b: string): boolean {
  const left = splitCertificates(a).map(normalise);
  const right = splitCertificates(b).map(normalise);
  return left.length === right.length && left.every((pem, i) => pem === right[i]);
}

/**
 * Decides what the Secret should hold: `current` where it is sound and
 * fresh, new key material where it is missing, broken or two thirds
 * through its lifetime.
 */
export async function planBundle(current: Partial<ServingBundle>, policy: BundlePolicy): Promise<BundlePlan> {
  const changes: string[] = [];
  let caCertPem = normalise(current.caCertPem ?? "");
  let caKeyPem = current.caKeyPem ?? "";
  const caProblem = await caProblemOf(current, policy.now);
  if (caProblem) {
    const ca = await createCertificateAuthority({ validityDays: policy.caValidityDays, now: policy.now });
    caCertPem = normalise(ca.certPem);
    caKeyPem = ca.keyPem;
    changes.push(`new CA: ${caProblem}`);
  }
  const trustPem = trustBundle(caCertPem, [current.caCertPem ?? "", current.trustPem ?? ""], policy.now);

  let certPem = current.certPem ?? "";
  let keyPem = current.keyPem ?? "";
  let waiting: string | undefined;
  const leaf = await leafProblemOf(current, caCertPem, policy);
  if (leaf && !leaf.urgent && await deferrable(certPem, caCertPem, policy)) {
    waiting = `the serving certificate (${leaf.problem}) moves to the new CA once kube-apiserver trusts it`;
  } else if (leaf) {
    const issued = await issueServingCertificate(
      { certPem: caCertPem, keyPem: caKeyPem, notAfter: describeCertificate(caCertPem).notAfter },
      { dnsNames: policy.dnsNames, validityDays: policy.certValidityDays, now: policy.now },
    );
    certPem = normalise(issued.certPem);
    keyPem = issued.keyPem;
    changes.push(`new serving certificate: ${leaf.problem}`);
  }
  if (changes.length === 0 && !sameCertificates(trustPem, current.trustPem ?? "")) {
    changes.push("trust bundle: expired CAs dropped");
  }
  return { bundle: { caCertPem, caKeyPem, certPem, keyPem, trustPem }, changes, waiting };
}

/** Why the CA must be replaced, or undefined when it is fine. */
async function caProblemOf(current: Partial<ServingBundle>, now: Date): Promise<string | undefined> {
  if (!current.caCertPem || !current.caKeyPem) return "none yet";
  let summary;
  try {
    summary = describeCertificate(current.caCertPem);
  } catch {
    return "the stored CA certificate is unreadable";
  }
  if (!summary.isCa) return "the stored CA certificate is not a CA";
  if (!(await keyMatchesCertificate(current.caCertPem, current.caKeyPem))) return "the stored CA key does not match";
  return lifetimeProblem(summary.notBefore, summary.notAfter, now, "the CA");
}

/**
 * Why the serving certificate must be reissued, or undefined when it is
 * fine. Urgent problems cannot wait: nothing usable is being served.
 */
async function leafProblemOf(
  current: Partial<ServingBundle>,
  caCertPem: string,
  policy: BundlePolicy,
): Promise<{ problem: string; urgent: boolean } | undefined> {
  if (!current.certPem || !current.keyPem) return { problem: "none yet", urgent: true };
  let summary;
  try {
    summary = describeCertificate(current.certPem);
  } catch {
    return { problem: "the stored certificate is unreadable", urgent: true };
  }
  if (summary.isCa) return { problem: "the stored certificate is a CA", urgent: true };
  if (!(await keyMatchesCertificate(current.certPem, current.keyPem))) {
    return { problem: "the stored key does not match", urgent: true };
  }
  const missing = policy.dnsNames.filter((name) => !summary.dnsNames.includes(name));
  if (missing.length > 0) return { problem: `it does not name ${missing.join(", ")}`, urgent: true };
  if (summary.notAfter.getTime() <= policy.now.getTime()) {
    return { problem: `it expired at ${summary.notAfter.toISOString()}`, urgent: true };
  }
  const lifetime = lifetimeProblem(summary.notBefore, summary.notAfter, policy.now, "it");
  if (lifetime) return { problem: lifetime, urgent: false };
  if (!(await isIssuedBy(current.certPem, caCertPem))) return { problem: "issued by a previous CA", urgent: false };
  return undefined;
}

/** A leaf from an older CA may keep serving while the apiserver trusts its issuer but not yet the new CA. */
async function deferrable(certPem: string, caCertPem: string, policy: BundlePolicy): Promise<boolean> {
  const trusted = policy.trustedCaPems.flatMap(splitCertificates).map(normalise);
  if (trusted.includes(normalise(caCertPem))) return false;
  for (const ca of trusted) {
    if (await isIssuedBy(certPem, ca)) return true;
  }
  return false;
}

function lifetimeProblem(notBefore: Date, notAfter: Date, now: Date, what: string): string | undefined {
  const remaining = notAfter.getTime() - now.getTime();
  if (remaining <= 0) return `${what} expired at ${notAfter.toISOString()}`;
  const lifetime = notAfter.getTime() - notBefore.getTime();
  if (remaining < lifetime / 3) {
    return `${what} expires at ${notAfter.toISOString()}, renewed at two thirds of its life`;
  }
  if (notBefore.getTime() > now.getTime()) return `${what} is not valid before ${notBefore.toISOString()}`;
  return undefined;
}

/** The current CA first, then every other CA certificate of `previous` that has not expired, each once. */
function trustBundle(caCertPem: string, previous: string[], now: Date): string {
  const seen = new Set<string>([normalise(caCertPem)]);
  const result = [normalise(caCertPem)];
  for (const pem of previous.flatMap(splitCertificates)) {
    const key = normalise(pem);
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      const summary = describeCertificate(pem);
      if (summary.isCa && summary.notAfter.getTime() > now.getTime()) result.push(key);
    } catch {
      // An unreadable entry is dropped.
    }
  }
  return result.join("");
}

function normalise(pem: string): string {
  return `${pem.trim().replace(/\r\n/g, "\n")}\n`;
}
