/**
 * The one way CoreDog builds its S3 client, for the watcher's storage and
 * the `coredog` CLI alike.
 *
 * Checksums are sent only when required: since SDK v3.729.0 the default
 * streams bodies `aws-chunked` with a CRC32 trailer, which OSS, COS, older
 * Ceph and others reject (aws-sdk-js-v3#6810).
 *
 * @module
 */

import { S3Client } from "@aws-sdk/client-s3";
import type { StorageSettings } from "../core/storage_settings.ts";
import { type ResolvedEndpoint, resolveEndpoint } from "../core/s3_endpoint.ts";

/** A client for the store `settings` name, and the endpoint and addressing style it resolved to. */
export function createS3Client(settings: StorageSettings): { client: S3Client; endpoint: ResolvedEndpoint } {
  const endpoint = resolveEndpoint(settings.endpoint, settings.addressingStyle);
  const client = new S3Client({
    region: settings.region,
    endpoint: endpoint.url,
    forcePathStyle: endpoint.forcePathStyle,
    credentials: settings.accessKeyId
      ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
      : undefined,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  });
  return { client, endpoint };
}
