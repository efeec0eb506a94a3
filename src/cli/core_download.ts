/**
 * Writes a stored core to a file: decompresses it (zstd, gzip or none),
 * checks its SHA-256 against the metadata, and only then gives it the
 * target name. The bytes go to a hidden temporary file in the target's
 * directory, renamed on success and removed on any failure, so a
 * corrupted object or an interrupted download never leaves a file that
 * looks like the core.
 *
 * Used by `coredog get` and by `coredog fetch` in the debug pod's init
 * container.
 *
 * @module
 */

import { createHash } from "node:crypto";
import fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";

/** Compression of a stored core, as the metadata's `corefile.compression` says. */
export type Compression = "zstd" | "gzip" | "none";

/** Compressions {@linkcode writeVerifiedCore} reads. */
export const COMPRESSIONS: readonly Compression[] = ["zstd", "gzip", "none"];

/** Options of {@linkcode writeVerifiedCore}. */
export interface WriteCoreOptions {
  compression: Compression;
  /** Expected hex SHA-256 of the raw core; checked when given. */
  sha256?: string;
  /** Expected size of the raw core, bytes; checked when given. */
  rawBytes?: number;
  /** Replace an existing file at the target. */
  force?: boolean;
  /** Called with the count of stored (compressed) bytes read so far. */
  onProgress?: (storedBytesRead: number) => void;
}

/** The stored bytes are not the core the metadata describes. */
class CoreMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CoreMismatchError";
  }
}

/** Writes the core in `body` to `target`; resolves with what was written. */
export async function writeVerifiedCore(
  body: Readable,
  target: string,
  options: WriteCoreOptions,
): Promise<{ rawBytes: number; sha256: string }> {
  if (!options.force && fs.existsSync(target)) {
    body.destroy();
    throw new Error(`${target} exists; choose another file with -o FILE, or pass --force to replace it`);
  }
  const tmp = join(dirname(target), `.${basename(target)}.partial-${crypto.randomUUID().slice(0, 8)}`);
  const hash = createHash("sha256");
  let stored = 0;
  let raw = 0;
  const counter = new Transform({
    transform(chunk: Uint8Array, _encoding: string, callback: TransformCallback) {
      stored += chunk.length;
      options.onProgress?.(stored);
      callback(null, chunk);
    },
  });
  const tap = new Transform({
    transform(chunk: Uint8Array, _encoding: string, callback: TransformCallback) {
      hash.update(chunk);
      raw += chunk.length;
      callback(null, chunk);
    },
  });
  const stages: (Readable | Transform | fs.WriteStream)[] = [body, counter];
  const decompressor = createDecompressor(options.compression);
  if (decompressor) stages.push(decompressor);
  stages.push(tap, fs.createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
  try {
    try {
      await pipeline(stages as unknown as [Readable, fs.WriteStream]);
    } catch (error) {
      if (
        (error as NodeJS.ErrnoException).code?.startsWith("Z_") || /zstd|incorrect header|invalid/i.test(String(error))
      ) {
        throw new CoreMismatchError(
          `the stored object is not valid ${options.compression} data (${(error as Error).message}); ` +
            "it is damaged in the store: nothing was written",
        );
      }
      throw error;
    }
    const sha256 = hash.digest("hex");
    if (options.rawBytes !== undefined && raw !== options.rawBytes) {
      throw new CoreMismatchError(
        `the stored core decompresses to ${raw} bytes, the metadata says ${options.rawBytes}: ` +
          "it is damaged or incomplete in the store; nothing was written",
      );
    }
    if (options.sha256 && sha256 !== options.sha256.toLowerCase()) {
      throw new CoreMismatchError(
        `SHA-256 mismatch: the downloaded core hashes to ${sha256}, the metadata says ${options.sha256}; ` +
          "the object is damaged in the store; nothing was written",
      );
    }
    if (options.force) {
      await fs.promises.rename(tmp, target);
    } else {
      // A hard link fails if the target appeared while the core was downloading: never replaced without --force.
      try {
        await fs.promises.link(tmp, target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") {
          throw new Error(`${target} appeared while the core was downloading; pass --force to replace it`);
        }
        // A file system without hard links (FAT, some FUSE mounts): the check made before the download stands.
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw error;
        await fs.promises.rename(tmp, target);
      }
      await fs.promises.rm(tmp, { force: true });
    }
    return { rawBytes: raw, sha256 };
  } catch (error) {
    await fs.promises.rm(tmp, { force: true });
    throw error;
  }
}

function createDecompressor(compression: Compression): Transform | undefined {
  if (compression === "zstd") return zlib.createZstdDecompress() as unknown as Transform;
  if (compression === "gzip") return zlib.createGunzip();
  return undefined;
}
