/**
 * cert-manager's real CustomResourceDefinitions for the chart's
 * cert-manager mode: taken from the pinned Go module
 * github.com/cert-manager/cert-manager (its deploy/crds/ directory) through
 * the Go module proxy, before the tier loses the network, and copied into
 * tests/cluster/.cache/. Only the CRDs: no cert-manager controller runs, so
 * a scenario writes the Secrets the way cert-manager's issuing controller
 * would.
 *
 * @module
 */

import { join } from "node:path";
import { CACHE_DIR } from "./binaries.ts";

/** The cert-manager release whose CRDs the tier installs. */
export const CERT_MANAGER_VERSION = "v1.19.1";

/** The CRDs the chart's objects need (Issuer, Certificate) and the one a Certificate makes (CertificateRequest). */
const CRD_FILES = [
  "cert-manager.io_issuers.yaml",
  "cert-manager.io_certificates.yaml",
  "cert-manager.io_certificaterequests.yaml",
];

/** Where the CRDs of {@linkcode CERT_MANAGER_VERSION} are cached. */
export function certManagerCrdDir(): string {
  return join(CACHE_DIR, `cert-manager-crds-${CERT_MANAGER_VERSION}`);
}

/** The cached CRD files; throws with the way to get them when they are missing. */
export function certManagerCrdFiles(): string[] {
  const files = CRD_FILES.map((name) => join(certManagerCrdDir(), name));
  for (const file of files) {
    try {
      Deno.statSync(file);
    } catch {
      throw new Error(`${file} is missing: \`deno task test:cluster\` downloads cert-manager's CRDs before it starts`);
    }
  }
  return files;
}

/** Downloads the module with `go mod download` (once) and copies its CRDs into the cache. */
export async function ensureCertManagerCrds(log: (line: string) => void): Promise<void> {
  const dir = certManagerCrdDir();
  try {
    certManagerCrdFiles();
    log(`cert-manager CRDs ${CERT_MANAGER_VERSION}: cached in ${dir}`);
    return;
  } catch {
    // not cached yet
  }
  const module = `github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION}`;
  const output = await new Deno.Command("go", {
    args: ["mod", "download", "-json", module],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`go mod download ${module} failed:\n${text}${new TextDecoder().decode(output.stderr)}`);
  }
  const source = join(JSON.parse(text).Dir, "deploy", "crds");
  await Deno.mkdir(dir, { recursive: true });
  for (const name of CRD_FILES) await Deno.copyFile(join(source, name), join(dir, name));
  log(`cert-manager CRDs ${CERT_MANAGER_VERSION}: copied from ${source}`);
}
