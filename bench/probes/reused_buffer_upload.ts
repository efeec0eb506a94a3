/**
 * A prototype of the fix suggested for the watcher's memory (see
 * `bench/findings.md`), kept here to measure it; `src/watcher/upload.ts`
 * is not changed. The watcher's upload reads the core through a Node read
 * stream that allocates a fresh 1 MiB buffer per read; V8 frees those only
 * when external memory has grown by tens of MiB, so reading alone lifts RSS
 * by ~75 MiB. Here one buffer is reused: each chunk is hashed and
 * compressed synchronously (`zstdCompressSync`, one zstd frame per chunk;
 * concatenated frames are one valid zstd stream) before the next read, so
 * nothing else can still hold it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type fs from "node:fs";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import zlib from "node:zlib";
import type { Storage } from "../../src/storage/mod.ts";
import type { UploadResult } from "../../src/watcher/upload.ts";

const READ_CHUNK = 1024 * 1024;

/** Uploads the file behind `handle` to `target.key`, zstd level 1, reading into one reused buffer. */
export async function uploadCoreReusingBuffer(
  handle: fs.promises.FileHandle,
  target: { storage: Storage; key: string },
): Promise<UploadResult> {
  const hash = createHash("sha256");
  const buffer = new Uint8Array(READ_CHUNK);
  const body = new PassThrough({ highWaterMark: READ_CHUNK });
  const uploading = target.storage.upload(target.key, body, { contentType: "application/zstd" });
  let rawBytes = 0;
  let storedBytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, rawBytes);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      rawBytes += bytesRead;
      hash.update(chunk);
      const frame = zlib.zstdCompressSync(chunk, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } });
      storedBytes += frame.length;
      if (!body.write(frame)) await once(body, "drain");
    }
    body.end();
    await uploading;
  } catch (error) {
    body.destroy();
    await uploading.catch(() => {});
    throw error;
  }
  return { rawBytes, storedBytes, sha256: hash.digest("hex"), dataBytes: rawBytes };
}
