/**
 * Storage in an S3-compatible object store: AWS S3, Tencent COS, Alibaba
 * OSS, MinIO, Ceph RGW.
 *
 * Checksums are sent only when required: since SDK v3.729.0 the default
 * streams bodies `aws-chunked` with a CRC32 trailer, which OSS, COS, older
 * Ceph and others reject (aws-sdk-js-v3#6810). Uploads are multipart with a
 * bounded number of parts in memory, so a multi-gigabyte core costs tens of
 * megabytes, not gigabytes: `multipart_upload.ts` fills a few part buffers
 * allocated once per upload (`@aws-sdk/lib-storage` copied every part into
 * a new buffer, which V8 frees late: +118 MiB RSS for a 121 MiB object).
 *
 * @module
 */

import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Readable } from "node:stream";
import type { StorageSettings } from "../core/storage_settings.ts";
import { uploadMultipart } from "./multipart_upload.ts";
import { createS3Client } from "./s3_client.ts";
import { CleanupUnsupportedError, type DownloadLink, publicUrl, type Storage } from "./storage.ts";

/** Size of each multipart part; 10,000 parts of 8 MiB hold 78 GiB of compressed core. */
const PART_BYTES = 8 * 1024 * 1024;
/** Parts uploaded at once (and so held in memory at once). */
const PARTS_IN_FLIGHT = 2;

/** Creates an S3-backed {@linkcode Storage}. */
export function createS3Storage(settings: StorageSettings): Storage {
  const { client, endpoint } = createS3Client(settings);
  const bucket = settings.bucket;

  return {
    backend: "s3",
    bucket,
    describe: () =>
      `s3://${bucket} at ${endpoint.url ?? `AWS ${settings.region}`} (${
        endpoint.forcePathStyle ? "path" : "virtual-hosted"
      } style: ${endpoint.reason}; credentials: ${settings.credentialSource})`,
    async upload(key: string, body: Readable, options: { contentType: string }): Promise<void> {
      await uploadMultipart(client, { bucket, key, body }, {
        contentType: options.contentType,
        partBytes: PART_BYTES,
        partsInFlight: PARTS_IN_FLIGHT,
      });
    },
    async size(key: string): Promise<number | undefined> {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return head.ContentLength;
      } catch (error) {
        if (httpStatus(error) === 404) return undefined;
        throw error;
      }
    },
    async putJson(key: string, value: unknown): Promise<void> {
      await client.send(jsonPut(bucket, key, value));
    },
    async createJsonIfAbsent(key: string, value: unknown): Promise<boolean> {
      try {
        await client.send(jsonPut(bucket, key, value, { ifNoneMatch: "*" }));
        return true;
      } catch (error) {
        const status = httpStatus(error);
        // 412: it exists; 409: a concurrent conditional write to the same key is in progress (AWS).
        if (status === 412 || status === 409) return false;
        throw error;
      }
    },
    async listKeys(prefix: string, limit: number): Promise<string[]> {
      // ListObjects (v1) with a marker: every S3-compatible store has it (s3rver refuses
      // the signature of the SDK's ListObjectsV2 requests).
      const keys: string[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker, MaxKeys: 1000 }),
        );
        const contents = page.Contents ?? [];
        for (const item of contents) if (item.Key) keys.push(item.Key);
        if (!page.IsTruncated || contents.length === 0 || keys.length >= limit) break;
        marker = page.NextMarker ?? contents[contents.length - 1].Key;
      }
      return keys.sort().slice(0, limit);
    },
    async abortIncompleteUploads(key: string): Promise<number> {
      let uploads: { Key?: string; UploadId?: string }[];
      try {
        const listing = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
        uploads = listing.Uploads ?? [];
      } catch (error) {
        const name = (error as Error).name;
        if (name === "NotImplemented" || name === "AccessDenied" || name === "MethodNotAllowed") {
          throw new CleanupUnsupportedError(`cannot list multipart uploads: ${name}: ${(error as Error).message}`);
        }
        throw error;
      }
      let aborted = 0;
      for (const upload of uploads) {
        if (upload.Key !== key || !upload.UploadId) continue;
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }));
        aborted++;
      }
      return aborted;
    },
    async downloadLink(key: string): Promise<DownloadLink> {
      if (settings.publicUrlTemplate) return { url: publicUrl(settings.publicUrlTemplate, bucket, key) };
      const expiresIn = settings.presignedUrlExpireSeconds;
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn });
      return { url, expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString() };
    },
  };
}

/** A PUT of `value` as indented JSON; with `ifNoneMatch: "*"` it only creates. */
function jsonPut(
  bucket: string,
  key: string,
  value: unknown,
  options: { ifNoneMatch?: string } = {},
): PutObjectCommand {
  return new PutObjectCommand({
    Bucket: bucket,
    Key: key,
    Body: JSON.stringify(value, null, 2) + "\n",
    ContentType: "application/json",
    IfNoneMatch: options.ifNoneMatch,
  });
}

/** The HTTP status of an SDK error, when the store answered. */
function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}
