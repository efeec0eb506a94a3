/**
 * Runs one stage of the watcher's upload path on one file, in a fresh
 * process, and prints its wall time, CPU time and peak RSS as JSON. Run
 * stage by stage, it shows where the pipeline's time and memory go: the
 * read itself, the SHA-256, zstd, and the multipart upload, each with the
 * watcher's own code and settings (`uploadCore`, `createStorage`).
 *
 * Usage: deno run -A bench/probes/upload_stage_probe.ts <stage> <file> <s3-endpoint>
 * Stages: idle, read, read+sha256, read+zstd, read+sha256+zstd, upload (the watcher's
 * `uploadCore`: hash, zstd, multipart upload, then the HEAD check), upload-reuse
 * (the same with the suggested fix, `reused_buffer_upload.ts`), and
 * upload-precompressed (`<file>` is already compressed: the multipart upload alone)
 *
 * @module
 */

import { createHash } from "node:crypto";
import fs from "node:fs";
import { PassThrough, Transform, type TransformCallback, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { parseConfig } from "../../src/core/config.ts";
import { createStorage } from "../../src/storage/mod.ts";
import { uploadCore } from "../../src/watcher/upload.ts";
import { cpuSeconds, memoryStats } from "../support/proc_stats.ts";
import { uploadCoreReusingBuffer } from "./reused_buffer_upload.ts";
import { s3StorageYaml } from "../support/s3_process.ts";

/** What one stage cost. */
export interface StageCost {
  stage: string;
  seconds: number;
  cpuSeconds: number;
  /** RSS before the stage started (runtime and modules loaded). */
  startRssBytes: number;
  peakRssBytes: number;
  outputBytes: number;
}

const READ_CHUNK = 1024 * 1024;

if (import.meta.main) {
  const [stage, file, endpoint] = Deno.args;
  console.log(JSON.stringify(await runStage(stage, { file, endpoint })));
}

/** Runs `stage` on `options.file`. */
export async function runStage(stage: string, options: { file: string; endpoint: string }): Promise<StageCost> {
  const config = parseConfig([...s3StorageYaml(options.endpoint), ""].join("\n"));
  const storage = createStorage(config.storage);
  // Let start-up garbage settle so that the start RSS is the steady one.
  await new Promise((r) => setTimeout(r, 200));
  const startRssBytes = memoryStats(Deno.pid).rssBytes;
  const cpu0 = cpuSeconds(Deno.pid);
  const started = performance.now();
  let outputBytes = 0;
  const count = (bytes: number) => outputBytes += bytes;
  const handle = await fs.promises.open(options.file, "r");
  try {
    const source = () => handle.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false, start: 0 });
    const hashing = () => tap(createHash("sha256"));
    const zstd = () => zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } });
    switch (stage) {
      case "idle":
        break;
      case "read":
        await pipeline(source(), sink(count));
        break;
      case "read+sha256":
        await pipeline(source(), hashing(), sink(count));
        break;
      case "read+zstd":
        await pipeline(source(), zstd(), sink(count));
        break;
      case "read+sha256+zstd":
        await pipeline(source(), hashing(), zstd(), sink(count));
        break;
      case "upload": {
        const key = `probe/${crypto.randomUUID()}.core.zst`;
        const result = await uploadCore(handle, { storage, key }, { compression: "zstd", level: 0 });
        if ((await storage.size(key)) !== result.storedBytes) throw new Error("verification failed");
        count(result.storedBytes);
        break;
      }
      case "upload-reuse": {
        // The suggested fix (reused_buffer_upload.ts), for comparison with "upload".
        const key = `probe/${crypto.randomUUID()}.core.zst`;
        const result = await uploadCoreReusingBuffer(handle, { storage, key });
        if ((await storage.size(key)) !== result.storedBytes) throw new Error("verification failed");
        count(result.storedBytes);
        break;
      }
      case "upload-precompressed": {
        const key = `probe/${crypto.randomUUID()}.core.zst`;
        // Through a PassThrough, as uploadCore hands its body over.
        await storage.upload(key, source().pipe(new PassThrough()), { contentType: "application/zstd" });
        count((await storage.size(key)) ?? 0);
        break;
      }
      default:
        throw new Error(`unknown stage ${stage}`);
    }
  } finally {
    await handle.close();
  }
  return {
    stage,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSeconds(Deno.pid) - cpu0,
    startRssBytes,
    peakRssBytes: memoryStats(Deno.pid).peakRssBytes,
    outputBytes,
  };
}

function tap(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Uint8Array, _encoding: string, callback: TransformCallback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      hash.digest();
      callback();
    },
  });
}

function sink(count: (bytes: number) => void): Writable {
  // As large as a chunk, so that the sink itself never applies backpressure.
  return new Writable({
    highWaterMark: READ_CHUNK,
    write(chunk: Uint8Array, _encoding: string, callback: (error?: Error | null) => void) {
      count(chunk.length);
      callback();
    },
  });
}
