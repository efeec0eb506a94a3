/**
 * A fresh PKI for one run of the cluster tier, made with openssl: a CA,
 * the API server's serving certificate, an admin client certificate
 * (group system:masters, for the tier itself and the controller manager)
 * and the service-account signing key pair.
 *
 * @module
 */

import { join } from "node:path";
import { lastLines } from "./binaries.ts";

/** Files of the PKI. */
export interface TierPki {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** Options of {@linkcode createPki}. */
export interface PkiOptions {
  /** IP addresses the API server answers on (its certificate names them). */
  apiserverIps: string[];
}

/** Writes a new PKI into `dir`. */
export async function createPki(dir: string, options: PkiOptions): Promise<TierPki> {
  await Deno.mkdir(dir, { recursive: true });
  const pki: TierPki = {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    apiserverCert: join(dir, "apiserver.crt"),
    apiserverKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.crt"),
    adminKey: join(dir, "admin.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
  };
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=coredog-cluster-tier-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    "-keyout",
    pki.caKey,
    "-out",
    pki.caCert,
  ]);
  const sans = [
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "DNS:localhost",
    ...options.apiserverIps.map((ip) => `IP:${ip}`),
  ].join(",");
  await issue(dir, pki, {
    subject: "/CN=kube-apiserver",
    cert: pki.apiserverCert,
    key: pki.apiserverKey,
    extensions: [`subjectAltName=${sans}`, "extendedKeyUsage=serverAuth", "keyUsage=critical,digitalSignature"],
  });
  await issue(dir, pki, {
    subject: "/O=system:masters/CN=coredog-tier-admin",
    cert: pki.adminCert,
    key: pki.adminKey,
    extensions: ["extendedKeyUsage=clientAuth", "keyUsage=critical,digitalSignature"],
  });
  await openssl(dir, ["genrsa", "-out", pki.serviceAccountKey, "2048"]);
  await openssl(dir, ["rsa", "-in", pki.serviceAccountKey, "-pubout", "-out", pki.serviceAccountPub]);
  return pki;
}

interface IssueOptions {
  subject: string;
  cert: string;
  key: string;
  extensions: string[];
}

async function issue(dir: string, pki: TierPki, options: IssueOptions): Promise<void> {
  const csr = `${options.cert}.csr`;
  const extFile = `${options.cert}.ext`;
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    options.subject,
    "-keyout",
    options.key,
    "-out",
    csr,
  ]);
  await Deno.writeTextFile(extFile, options.extensions.join("\n") + "\n");
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    pki.caCert,
    "-CAkey",
    pki.caKey,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    extFile,
    "-out",
    options.cert,
  ]);
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) throw new Error(`openssl ${args[0]} failed:\n${lastLines(output.stderr, 10)}`);
}
