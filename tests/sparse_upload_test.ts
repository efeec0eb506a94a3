import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import zlib from "node:zlib";
import { parseConfig } from "../src/core/config.ts";
import { createStorage } from "../src/storage/mod.ts";
import { uploadCore } from "../src/watcher/upload.ts";
import { getBytes, testS3Client } from "./support/s3_client.ts";
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server } from "./support/s3_server.ts";

const MiB = 1024 * 1024;

/** A sparse file: `pieces` of random data at the given offsets, holes elsewhere, `size` long (trailing hole). */
async function sparseFile(path: string, size: number, pieces: { at: number; bytes: number }[]): Promise<Uint8Array> {
  const file = await Deno.open(path, { write: true, createNew: true });
  for (const piece of pieces) {
    await file.seek(piece.at, Deno.SeekMode.Start);
    const data = new Uint8Array(piece.bytes);
    for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    await file.write(data);
  }
  await file.truncate(size);
  file.close();
  return await Deno.readFile(path);
}

async function upload(path: string, key: string, endpoint: string, compression: "zstd" | "none") {
  const storage = createStorage(
    parseConfig(
      `StorageConfig:\n  S3Bucket: cores\n  S3Endpoint: ${endpoint}\n  s3AccesskeyID: ${S3_ACCESS_KEY}\n  s3SecretAccessKey: ${S3_SECRET_KEY}\n`,
    ).storage,
  );
  const stat = await Deno.stat(path);
  const handle = await fs.promises.open(path);
  try {
    return await uploadCore(handle, { storage, key }, {
      compression,
      level: 0,
      source: { path, dev: stat.dev!, ino: stat.ino!, size: stat.size },
    });
  } finally {
    await handle.close();
  }
}

Deno.test("a sparse core is read by its data regions only and stored byte for byte, holes as zeros", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-sparse-" });
  const s3 = await startS3Server(dir);
  try {
    // Data at unaligned offsets, one piece across a part boundary of the compressed stream, a trailing hole.
    const path = `${dir}/core.sparse`;
    const size = 512 * MiB + 4097;
    const raw = await sparseFile(path, size, [
      { at: 4096 * 3 + 17, bytes: 70_000 },
      { at: 100 * MiB + 1, bytes: 20 * MiB },
      { at: 300 * MiB, bytes: 4096 },
    ]);
    const result = await upload(path, "sparse.core.zst", s3.endpoint, "zstd");
    const stored = zlib.zstdDecompressSync(await getBytes(testS3Client(s3.endpoint), "sparse.core.zst"));
    assert.equal(stored.length, size);
    assert.ok(Buffer.from(stored).equals(raw), "the stored object decompresses to the file, holes as zeros");
    assert.equal(result.sha256, createHash("sha256").update(raw).digest("hex"));
    assert.equal(result.rawBytes, size);
    // File systems give data regions in whole blocks: a little over the 20.07 MiB written, far under 512 MiB.
    assert.ok(result.dataBytes >= 20 * MiB + 74_096 && result.dataBytes < 21 * MiB, `read ${result.dataBytes} bytes`);
  } finally {
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("uncompressed: reused read buffers never reach the store half overwritten", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-sparse-" });
  const s3 = await startS3Server(dir);
  try {
    const path = `${dir}/core.dense`;
    const raw = await sparseFile(path, 24 * MiB, [{ at: 0, bytes: 24 * MiB }]);
    const result = await upload(path, "dense.core", s3.endpoint, "none");
    const stored = await getBytes(testS3Client(s3.endpoint), "dense.core");
    assert.ok(Buffer.from(stored).equals(raw), "stored as written (three multipart parts)");
    assert.equal(result.storedBytes, raw.length);
  } finally {
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
