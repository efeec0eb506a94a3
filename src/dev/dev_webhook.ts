/**
 * The admission webhook of the local quickstart: HTTPS on 127.0.0.1 with a
 * throwaway CA and certificate kept under `.coredog/webhook-tls/`, so that
 * `curl --cacert` can post the sample AdmissionReview it writes to
 * `.coredog/webhook-sample.json` and show the patch.
 *
 * @module
 */

import { join } from "node:path";
import type { Logger } from "../log.ts";
import { createCertificateAuthority, describeCertificate, issueServingCertificate } from "../tls/certificates.ts";
import { startWebhookServer, type WebhookServer } from "../webhook/server.ts";
import { sampleAdmissionReview } from "./sample_review.ts";

/** Port of the local webhook unless `COREDOG_WEBHOOK_PORT` says otherwise. */
export const DEV_WEBHOOK_PORT = 8443;

/** Options of {@linkcode startDevWebhook}. */
export interface DevWebhookOptions {
  /** The quickstart's directory (`.coredog`); certificates go to `<dir>/webhook-tls/`, the sample next to them. */
  dir: string;
  /** CorefileDir the injected hostPath points at. */
  corefileDir: string;
  logger: Logger;
  /** 0 picks a free port. */
  port?: number;
}

/** A running local webhook and how to reach it. */
export interface DevWebhook {
  server: WebhookServer;
  /** `https://127.0.0.1:<port>/mutate` */
  url: string;
  /** The CA that signed the serving certificate, for `curl --cacert`. */
  caFile: string;
  /** The sample AdmissionReview (a Deployment's pod that opts in), `<dir>/webhook-sample.json`. */
  sampleFile: string;
  /** A shell command that posts the sample and prints the decoded patch. */
  curlExample: string;
}

/**
 * Starts the webhook on 127.0.0.1, reusing the certificates of an earlier
 * run while they are valid so that a saved curl command keeps working.
 */
export async function startDevWebhook(options: DevWebhookOptions): Promise<DevWebhook> {
  const tlsDir = join(options.dir, "webhook-tls");
  const files = { caFile: join(tlsDir, "ca.crt"), certFile: join(tlsDir, "tls.crt"), keyFile: join(tlsDir, "tls.key") };
  if (!(await usable(files))) await writeThrowawayCertificates(tlsDir, files);
  const sampleFile = join(options.dir, "webhook-sample.json");
  await Deno.writeTextFile(sampleFile, sampleAdmissionReview());
  const server = startWebhookServer({
    corefileDir: options.corefileDir,
    certFile: files.certFile,
    keyFile: files.keyFile,
    hostname: "127.0.0.1",
    port: options.port ?? DEV_WEBHOOK_PORT,
    logger: options.logger,
  });
  let addr: Deno.NetAddr;
  try {
    addr = await server.listening;
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  const url = `https://127.0.0.1:${addr.port}/mutate`;
  return {
    server,
    url,
    caFile: files.caFile,
    sampleFile,
    curlExample: `curl -s --cacert ${files.caFile} -H 'Content-Type: application/json' ` +
      `--data-binary @${sampleFile} ${url} | jq -r .response.patch | base64 -d | jq .`,
  };
}

async function usable(files: { caFile: string; certFile: string; keyFile: string }): Promise<boolean> {
  try {
    await Deno.stat(files.caFile);
    await Deno.stat(files.keyFile);
    const summary = describeCertificate(await Deno.readTextFile(files.certFile));
    return summary.notAfter.getTime() > Date.now() + 24 * 60 * 60 * 1000;
  } catch {
    return false;
  }
}

async function writeThrowawayCertificates(
  dir: string,
  files: { caFile: string; certFile: string; keyFile: string },
): Promise<void> {
  const ca = await createCertificateAuthority({ commonName: "CoreDog local dev CA", validityDays: 30 });
  const leaf = await issueServingCertificate(ca, {
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "::1"],
    validityDays: 30,
  });
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(files.caFile, ca.certPem);
  await Deno.writeTextFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
  await Deno.writeTextFile(files.certFile, leaf.certPem);
}
