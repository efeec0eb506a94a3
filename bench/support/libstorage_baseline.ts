/**
 * The second baseline of issue 14: what a straightforward Deno script
 * does with one finished core. The `zstd -1 -T0` CLI compresses it into
 * `@aws-sdk/lib-storage`'s `Upload` (multipart, its default 5 MiB parts, 4
 * at once), while `node:crypto` computes the core's SHA-256 from a second
 * read; then a HEAD checks the stored size, as CoreDog's verification does.
 *
 * Run as its own process by {@linkcode runLibStorageBaseline}, so that its
 * CPU is counted apart (the script's and zstd's, through bash's `times`).
 *
 * Usage: deno run -A bench/support/libstorage_baseline.ts <core> <endpoint> <key>
 *
 * @module
 */

import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { spawn } from "node:child_process";
import { testS3Client } from "../../tests/support/s3_client.ts";

/** One run of the script. */
export interface LibStorageBaselineResult {
  seconds: number;
  storedBytes: number;
  /** User + system CPU of the script and zstd. */
  cpuSeconds: number;
  sha256: string;
}

/** Runs the script on `corePath` in a process of its own; throws when it fails. */
export async function runLibStorageBaseline(
  corePath: string,
  options: { endpoint: string; key: string },
): Promise<LibStorageBaselineResult> {
  const script = new URL(import.meta.url).pathname;
  const started = performance.now();
  const output = await new Deno.Command("bash", {
    args: ["-c", `"$DENO" run -A "$SCRIPT" "$CORE" "$ENDPOINT" "$KEY" && times`],
    env: { DENO: Deno.execPath(), SCRIPT: script, CORE: corePath, ENDPOINT: options.endpoint, KEY: options.key },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) throw new Error(`lib-storage baseline failed: ${new TextDecoder().decode(output.stderr)}`);
  const result = JSON.parse(text.split("\n").find((line) => line.startsWith("{"))!);
  const children = text.trim().split("\n").at(-1) ?? "";
  const cpuSeconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, m) => sum + Number(m[1]) * 60 + Number(m[2]),
    0,
  );
  return { seconds, storedBytes: result.storedBytes, sha256: result.sha256, cpuSeconds };
}

async function main(core: string, endpoint: string, key: string): Promise<void> {
  const client = testS3Client(endpoint);
  const zstd = spawn("zstd", ["-1", "-T0", "-q", "-c", core], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve, reject) =>
    zstd.on("close", (code) => code === 0 ? resolve() : reject(new Error(`zstd exited ${code}`)))
  );
  const hashing = new Promise<string>((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(core, { highWaterMark: 1024 * 1024 })
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
  const upload = new Upload({ client, params: { Bucket: "cores", Key: key, Body: zstd.stdout } });
  const [, , sha256] = await Promise.all([upload.done(), exited, hashing]);
  const head = await client.send(new HeadObjectCommand({ Bucket: "cores", Key: key }));
  console.log(JSON.stringify({ storedBytes: head.ContentLength, sha256 }));
}

if (import.meta.main) await main(Deno.args[0], Deno.args[1], Deno.args[2]);
