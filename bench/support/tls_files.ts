/**
 * A throwaway CA and a serving certificate for 127.0.0.1, written as PEM
 * files, made with CoreDog's own certificate module (ECDSA P-256), so that
 * CoreDog's webhook and the bare server present the same kind of key.
 *
 * @module
 */

import { join } from "node:path";
import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/certificates.ts";

/** Paths of the written files. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** Writes `ca.crt`, `tls.crt` and `tls.key` into `dir`. */
export async function writeTlsFiles(dir: string): Promise<TlsFiles> {
  await Deno.mkdir(dir, { recursive: true });
  const ca = await createCertificateAuthority({ commonName: "CoreDog bench CA" });
  const leaf = await issueServingCertificate(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const files = { caFile: join(dir, "ca.crt"), certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
  await Deno.writeTextFile(files.caFile, ca.certPem);
  await Deno.writeTextFile(files.certFile, leaf.certPem);
  await Deno.writeTextFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
  return files;
}
