/**
 * Streams a core from disk through a hash and a compressor to storage, in
 * bounded memory whatever the core's size.
 *
 * Three things run at once: the read of the next chunk (`pread` on a pool
 * thread, `sparse_reader.ts`), the SHA-256 of the current one (libcrypto
 * on a pool thread, `sha256_hasher.ts`) and its compression (`node:zlib`,
 * on the libuv pool), several chunks at a time. Read buffers are allocated
 * once per upload and reused, so reading allocates nothing per chunk. Holes are never read: they go to the hash and the
 * compressor as one shared buffer of zeros, so the stored object still
 * decompresses to the core byte for byte.
 *
 * Without FFI the file is read whole through its handle, and hashed with
 * `node:crypto`.
 *
 * @module
 */

import type fs from "node:fs";
import { PassThrough, Transform, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import type { Storage } from "../storage/mod.ts";
import { createSha256 } from "./sha256_hasher.ts";
import { type FileSpan, openSparseReader } from "./sparse_reader.ts";

/** Bytes read from disk at a time (and the length of each read buffer). */
const READ_CHUNK = 1024 * 1024;
/** Chunks being hashed and compressed at once. */
const IN_FLIGHT = 4;

/**
 * Zeros standing in for a hole; never written to. Memory never touched
 * maps the kernel's shared zero page when read, so this costs no RSS.
 */
const ZEROS = new Uint8Array(8 * READ_CHUNK);

/** What was stored. */
export interface UploadResult {
  rawBytes: number;
  storedBytes: number;
  /** Hex SHA-256 of the raw bytes. */
  sha256: string;
  /** Bytes read from disk: the data regions (the whole file when holes could not be told apart). */
  dataBytes: number;
}

/** Options of {@linkcode uploadCore}. */
export interface UploadCoreOptions {
  compression: "zstd" | "gzip" | "none";
  /** 0 for the codec's fast default. */
  level: number;
  /** Called with raw byte counts as they are read (for metrics). */
  onRead?: (bytes: number) => void;
  /**
   * The file behind the handle, to read by data regions (opened again by
   * path; used only when it is still the same `dev` and `ino`).
   */
  source?: { path: string; dev: number; ino: number; size: number };
}

const CONTENT_TYPES = { zstd: "application/zstd", gzip: "application/gzip", none: "application/octet-stream" };

/** Uploads the file behind `handle` to `key`, compressing on the way. */
export async function uploadCore(
  handle: fs.promises.FileHandle,
  target: { storage: Storage; key: string },
  options: UploadCoreOptions,
): Promise<UploadResult> {
  const hash = createSha256();
  let rawBytes = 0;
  let storedBytes = 0;
  let dataBytes = 0;
  const counter = new Transform({
    transform(chunk: Uint8Array, _encoding: string, callback: TransformCallback) {
      storedBytes += chunk.length;
      callback(null, chunk);
    },
  });
  const body = new PassThrough();
  const compressor = createCompressor(options.compression, options.level);
  const input: Writable = compressor ?? counter;
  const streaming = compressor ? pipeline(compressor, counter, body) : pipeline(counter, body);
  const uploading = target.storage.upload(target.key, body, { contentType: CONTENT_TYPES[options.compression] });
  // A failed upload stops taking bytes; feeding must then stop too instead of waiting on backpressure.
  let failure: unknown;
  const failed = Promise.all([streaming, uploading]).then(() => new Promise<never>(() => {}), (error) => {
    failure = error;
    throw error;
  });
  failed.catch(() => {});

  const pool = new BufferPool(IN_FLIGHT + 1);
  const inFlight = new Set<Promise<void>>();
  /** The latest hash update: the pool thread may still read a buffer until it settles. */
  let hashing: Promise<void> = Promise.resolve();
  /** Hashes and compresses `bytes` (`out` goes to the compressor), with at most IN_FLIGHT chunks in the works. */
  async function submit(bytes: Uint8Array, out: Uint8Array, release?: () => void): Promise<void> {
    while (inFlight.size >= IN_FLIGHT) await Promise.race([...inFlight, failed]);
    if (failure) throw failure;
    hashing = hash.update(bytes);
    const work: Promise<void> = Promise.all([hashing, write(input, out)])
      .then(() => release?.(), (error) => {
        failure ??= error;
      })
      .finally(() => inFlight.delete(work));
    inFlight.add(work);
    rawBytes += bytes.length;
    options.onRead?.(bytes.length);
  }

  const size = options.source?.size ?? (await handle.stat()).size;
  const sparse = options.source ? openSparseReader(options.source.path, options.source) : undefined;
  const spans = sparse ? sparse.spans(size, () => pool.take()) : readWhole(handle, () => pool.take());
  try {
    for (;;) {
      // While this span is read, the ones before it are hashed and compressed.
      const step = await Promise.race([spans.next(), failed]);
      if (step.done) break;
      const span = step.value;
      if (span.kind === "data") {
        dataBytes += span.bytes.length;
        // Without a compressor the bytes go downstream as they are, so they must not be a reused buffer.
        const out = compressor ? span.bytes : span.bytes.slice();
        await submit(span.bytes, out, () => pool.give(span.bytes));
      } else {
        for (let left = span.length; left > 0;) {
          const zeros = ZEROS.subarray(0, Math.min(left, ZEROS.length));
          await submit(zeros, zeros);
          left -= zeros.length;
        }
      }
    }
    await Promise.race([Promise.all(inFlight), failed]);
    if (failure) throw failure;
    input.end();
    await Promise.all([streaming, uploading]);
  } catch (error) {
    // Whichever side failed, stop the other so that no file handle or
    // half-finished multipart upload is left behind.
    input.destroy();
    body.destroy();
    // A destroyed stream may never call back the writes it held: do not wait on those, and wake a read
    // waiting for a buffer they hold.
    pool.close(new Error("the upload failed"));
    const [upload] = await Promise.allSettled([uploading, streaming, hashing]);
    // When the store failed, its error says why (the stream's own is only "aborted").
    if (failure && upload.status === "rejected") throw upload.reason;
    throw failure ?? error;
  } finally {
    // The generator may still be reading: let it finish before its file is closed.
    await spans.return(undefined).catch(() => {});
    sparse?.close();
  }
  return { rawBytes, storedBytes, sha256: hash.digest(), dataBytes };
}

/** Read buffers allocated once per upload and handed back when their chunk is hashed and compressed. */
class BufferPool {
  #free: Uint8Array[] = [];
  #waiting: { resolve: (buffer: Uint8Array) => void; reject: (error: Error) => void }[] = [];
  #closed: Error | undefined;

  constructor(count: number) {
    for (let i = 0; i < count; i++) this.#free.push(new Uint8Array(READ_CHUNK));
  }

  take(): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(this.#closed);
    const buffer = this.#free.pop();
    if (buffer) return Promise.resolve(buffer);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Fails every waiting and later `take`. */
  close(error: Error): void {
    this.#closed = error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }

  /** Returns the buffer behind `view`. */
  give(view: Uint8Array): void {
    const buffer = new Uint8Array(view.buffer);
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(buffer);
    else this.#free.push(buffer);
  }
}

/** Writes `bytes` and resolves once the stream has consumed them (so the buffer may be reused). */
function write(stream: Writable, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(bytes, (error) => error ? reject(error) : resolve());
  });
}

/** The whole file through its handle, every byte as data (no FFI: holes cannot be told apart). */
async function* readWhole(
  handle: fs.promises.FileHandle,
  buffer: () => Promise<Uint8Array>,
): AsyncGenerator<FileSpan> {
  for (let position = 0;;) {
    const target = await buffer();
    const { bytesRead } = await handle.read(target, 0, target.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield { kind: "data", bytes: target.subarray(0, bytesRead) };
  }
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
