/**
 * SHA-256 of a core, computed off the main thread where it can be.
 *
 * `node:crypto`'s hash runs on the main thread, one update after the
 * other, so it cannot overlap the compressor and the reads. OpenSSL's
 * `libcrypto` (on every node image CoreDog ships: distroless `cc` carries
 * it) hashes with the CPU's SHA extensions, and called through FFI as a
 * nonblocking symbol it runs on a thread of Deno's pool while the main
 * thread feeds the compressor. Without FFI or `libcrypto`, `node:crypto`
 * does the job.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { libraryLoader } from "../libc_ffi.ts";

const SYMBOLS = {
  SHA256_Init: { parameters: ["buffer"], result: "i32" },
  SHA256_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32", nonblocking: true },
  SHA256_Final: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

/** libcrypto 3, or whichever the image's unversioned name points at. */
const loadCrypto = libraryLoader(["libcrypto.so.3", "libcrypto.so"], SYMBOLS);

/** A running SHA-256. */
export interface Sha256Hasher {
  /** Hashes `bytes`; they must not change until the promise settles. */
  update(bytes: Uint8Array): Promise<void>;
  /** The hex digest; no update may follow. */
  digest(): string;
}

/** Starts a SHA-256, on libcrypto through FFI when available. */
export function createSha256(): Sha256Hasher {
  const c = loadCrypto();
  if (!c) {
    const hash = createHash("sha256");
    return {
      update(bytes: Uint8Array): Promise<void> {
        hash.update(bytes);
        return Promise.resolve();
      },
      digest: () => hash.digest("hex"),
    };
  }
  // SHA256_CTX is 112 bytes; room to spare.
  const context = new Uint8Array(256);
  c.SHA256_Init(context);
  let busy: Promise<void> = Promise.resolve();
  return {
    update(bytes: Uint8Array): Promise<void> {
      // Updates of one context run one at a time, in order.
      busy = busy.then(async () => {
        if (await c.SHA256_Update(context, bytes, BigInt(bytes.length)) !== 1) throw new Error("SHA256_Update failed");
      });
      return busy;
    },
    digest(): string {
      const out = new Uint8Array(32);
      c.SHA256_Final(out, context);
      return [...out].map((b) => b.toString(16).padStart(2, "0")).join("");
    },
  };
}
