/**
 * Streams a core from disk through a hash and a compressor to storage, in
 * bounded memory whatever the core's size.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type fs from "node:fs";
import { PassThrough, type Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import type { Storage } from "../storage/mod.ts";

/** Bytes read from disk at a time. */
const READ_CHUNK = 1024 * 1024;

/** What was stored. */
export interface UploadResult {
  rawBytes: number;
  storedBytes: number;
  /** Hex SHA-256 of the raw bytes. */
  sha256: string;
}

/** Options of {@linkcode uploadCore}. */
export interface UploadCoreOptions {
  compression: "zstd" | "gzip" | "none";
  /** 0 for the codec's fast default. */
  level: number;
  /** Called with raw byte counts as they are read (for metrics). */
  onRead?: (bytes: number) => void;
}

const CONTENT_TYPES = { zstd: "application/zstd", gzip: "application/gzip", none: "application/octet-stream" };

/** Uploads the file behind `handle` to `key`, compressing on the way. */
export async function uploadCore(
  handle: fs.promises.FileHandle,
  target: { storage: Storage; key: string },
  options: UploadCoreOptions,
): Promise<UploadResult> {
  const hash = createHash("sha256");
  let rawBytes = 0;
  let storedBytes = 0;
  const source = handle.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false, start: 0 });
  const tap = new Transform({
    transform(chunk: Uint8Array, _encoding: string, callback: TransformCallback) {
      hash.update(chunk);
      rawBytes += chunk.length;
      options.onRead?.(chunk.length);
      callback(null, chunk);
    },
  });
  const counter = new Transform({
    transform(chunk: Uint8Array, _encoding: string, callback: TransformCallback) {
      storedBytes += chunk.length;
      callback(null, chunk);
    },
  });
  const body = new PassThrough();
  const stages: (Readable | Transform)[] = [source, tap];
  const compressor = createCompressor(options.compression, options.level);
  if (compressor) stages.push(compressor);
  stages.push(counter);
  const streaming = pipeline([...stages, body] as unknown as [Readable, PassThrough]);
  const uploading = target.storage.upload(target.key, body, { contentType: CONTENT_TYPES[options.compression] });
  try {
    await Promise.all([streaming, uploading]);
  } catch (error) {
    // Whichever side failed, stop the other so that no file handle or
    // half-finished multipart upload is left behind.
    source.destroy();
    body.destroy();
    await Promise.allSettled([streaming, uploading]);
    throw error;
  }
  return { rawBytes, storedBytes, sha256: hash.digest("hex") };
}

function createCompressor(compression: "zstd" | "gzip" | "none", level: number): Transform | undefined {
  if (compression === "zstd") {
    return zlib.createZstdCompress({
      params: { [zlib.constants.ZSTD_c_compressionLevel]: level || 1 },
    }) as unknown as Transform;
  }
  if (compression === "gzip") return zlib.createGzip({ level: level || 1 });
  return undefined;
}
