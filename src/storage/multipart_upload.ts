/**
 * A stream of unknown length to one S3 object: one `PutObject` when it
 * fits in a part, a multipart upload otherwise. Part buffers are allocated
 * once per upload (`partsInFlight + 1` of them: the ones being sent and
 * the one being filled) and reused, so memory stays flat whatever the
 * object's size and no garbage is made per part. On any failure the
 * multipart upload is aborted, so no orphaned parts are left to pay for.
 *
 * @module
 */

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";

/** Options of {@linkcode uploadMultipart}. */
export interface MultipartOptions {
  contentType: string;
  /** Bytes per part (S3: at least 5 MiB except the last; at most 10,000 parts). */
  partBytes: number;
  /** Parts sent at once. */
  partsInFlight: number;
}

/** Uploads `body` to `bucket`/`key`; resolves once the object is complete. */
export async function uploadMultipart(
  client: S3Client,
  target: { bucket: string; key: string; body: Readable },
  options: MultipartOptions,
): Promise<void> {
  const { bucket, key, body } = target;
  const free: Uint8Array[] = [new Uint8Array(options.partBytes)];
  let allocated = 1;
  let current = free.pop()!;
  let filled = 0;
  let uploadId: string | undefined;
  let partNumber = 0;
  const parts: { PartNumber: number; ETag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  function takeBuffer(): Promise<Uint8Array> | Uint8Array {
    if (free.length > 0) return free.pop()!;
    if (allocated < options.partsInFlight + 1) {
      allocated++;
      return new Uint8Array(options.partBytes);
    }
    // Every buffer is on the wire: wait for one to come back.
    return Promise.race(inFlight).then(() => takeBuffer());
  }

  async function sendPart(buffer: Uint8Array, length: number, partNumber: number): Promise<void> {
    const result = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: buffer.subarray(0, length),
        ContentLength: length,
      }),
    );
    if (!result.ETag) throw new Error(`part ${partNumber} of ${key}: the store returned no ETag`);
    parts.push({ PartNumber: partNumber, ETag: result.ETag });
  }

  async function flushPart(): Promise<void> {
    if (failure) throw failure;
    uploadId ??= (await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: options.contentType }),
    )).UploadId;
    if (!uploadId) throw new Error(`the store started no multipart upload for ${key}`);
    const buffer = current;
    const length = filled;
    const sending: Promise<void> = sendPart(buffer, length, ++partNumber)
      .catch((error) => {
        failure ??= error;
      })
      .finally(() => {
        inFlight.delete(sending);
        free.push(buffer);
      });
    inFlight.add(sending);
    current = await takeBuffer();
    filled = 0;
    if (failure) throw failure;
  }

  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      for (let at = 0; at < chunk.length;) {
        const n = Math.min(chunk.length - at, current.length - filled);
        current.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === current.length) await flushPart();
      }
    }
    if (uploadId === undefined) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: current.subarray(0, filled),
          ContentLength: filled,
          ContentType: options.contentType,
        }),
      );
      return;
    }
    if (filled > 0) await flushPart();
    await Promise.all(inFlight);
    if (failure) throw failure;
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (error) {
    body.destroy();
    await Promise.allSettled(inFlight);
    if (uploadId !== undefined) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
        .catch(() => {});
    }
    throw failure ?? error;
  }
}
