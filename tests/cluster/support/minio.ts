/**
 * A real MinIO server for the S3 scenarios that s3rver cannot answer
 * truthfully (signed ListMultipartUploads, objects listed only once
 * complete, conditional writes).
 *
 * @module
 */

import { join } from "node:path";
import { type ManagedProcess, startProcess, waitUntil } from "./managed_process.ts";

/** MinIO's address inside the tier's namespace. */
export const MINIO_ENDPOINT = "http://127.0.0.1:9000";
/** Virtual-hosted-style requests name buckets as `<bucket>.<this>` (resolved by the tier's /etc/hosts). */
export const MINIO_DOMAIN = "minio.tier.test";
/** Root credentials of the test server. */
export const MINIO_ACCESS_KEY = "coredog-tier";
/** Root secret of the test server. */
export const MINIO_SECRET_KEY = "coredog-tier-secret";

/** Starts MinIO with its data under `dir`. */
export async function startMinio(binary: string, dir: string, logFile: string): Promise<ManagedProcess> {
  await Deno.mkdir(join(dir, "data"), { recursive: true });
  const minio = await startProcess(
    "minio",
    [
      binary,
      "server",
      join(dir, "data"),
      "--address",
      "127.0.0.1:9000",
      "--console-address",
      "127.0.0.1:9001",
      "--quiet",
    ],
    logFile,
    {
      env: {
        MINIO_ROOT_USER: MINIO_ACCESS_KEY,
        MINIO_ROOT_PASSWORD: MINIO_SECRET_KEY,
        MINIO_DOMAIN,
        MINIO_BROWSER: "off",
        MINIO_UPDATE: "off",
        MINIO_CALLHOME_ENABLE: "off",
      },
    },
  );
  await waitUntil(minio, "a ready /minio/health/ready", async () => {
    const response = await fetch(`${MINIO_ENDPOINT}/minio/health/ready`);
    await response.body?.cancel();
    return response.ok;
  }, 60_000);
  return minio;
}
