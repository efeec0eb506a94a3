/**
 * The certificate reloader against a Secret volume swapped the kubelet's
 * way exactly between its read of the certificate and its read of the key:
 * the pair it applies is always one that belongs together, and a rotation
 * is never reported as a broken certificate. The swap is made inside the
 * reloader's own file read, so every run takes the same path.
 */

import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";
import {
  type CertifiedKey,
  createCertificateAuthority,
  issueServingCertificate,
  keyMatchesCertificate,
} from "../src/tls/certificates.ts";
import { watchCertificateFiles } from "../src/webhook/cert_reloader.ts";
import { waitFor } from "./support/harness.ts";
import { createSecretVolume } from "./support/secret_volume.ts";

Deno.test("a Secret swapped between the certificate read and the key read is read again, never applied torn", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-cert-reloader-" });
  const ca = await createCertificateAuthority();
  const first: CertifiedKey = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] });
  const second: CertifiedKey = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] });
  const secret = await createSecretVolume(dir);
  await secret.update(first);

  const logs: string[] = [];
  const applied: string[] = [];
  let swapAfterNextCertRead = false;
  let swaps = 0;
  const reloader = watchCertificateFiles({ certFile: secret.certFile, keyFile: secret.keyFile }, {
    intervalMs: 10,
    logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    async apply(pair) {
      // What a TLS server does with a pair: refuse a key that is not the certificate's.
      if (!(await keyMatchesCertificate(pair.certPem, pair.keyPem))) {
        throw new Error("the key does not belong to the certificate");
      }
      applied.push(pair.certPem === first.certPem ? "first" : pair.certPem === second.certPem ? "second" : "other");
    },
    async readFile(path) {
      const text = await Deno.readTextFile(path);
      if (path === secret.certFile && swapAfterNextCertRead) {
        swapAfterNextCertRead = false;
        await secret.update(second);
        swaps++;
      }
      return text;
    },
  });
  try {
    await waitFor("the first pair applied", () => applied.length === 1);
    swapAfterNextCertRead = true;
    await waitFor(
      "the rotated pair applied",
      () => applied.length === 2 || logs.some((l) => l.includes("level=error")),
    );
    assert.equal(swaps, 1, "the Secret was swapped once, between the certificate read and the key read");
    assert.deepEqual(applied, ["first", "second"]);
    assert.deepEqual(logs.filter((l) => l.includes("level=warn") || l.includes("level=error")), [], logs.join("\n"));
  } finally {
    await reloader.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
