/**
 * The baseline: what an operator would script with standard tools to do
 * the watcher's job on one finished core. `zstd -1 -T0` compresses it to a
 * file (level 1 is CoreDog's default level; `-T0` lets zstd use every core,
 * which CoreDog's single stream cannot), `curl --aws-sigv4` PUTs the file
 * to the same S3 server, and a signed HEAD checks the stored size, as
 * CoreDog's verification does.
 *
 * Why two steps and not `zstd | curl -T -`: a PUT from a pipe is sent
 * chunked, without a Content-Length, which S3 refuses (411
 * MissingContentLength); a tool user must stage the compressed file. The
 * payload is sent `UNSIGNED-PAYLOAD` (curl does not hash an uploaded file),
 * so the baseline hashes nothing, while CoreDog computes the raw core's
 * SHA-256 for its record. The `hash` variant adds `openssl dgst -sha256` of
 * the raw core, run alongside zstd, for a like-for-like comparison
 * (`sha256sum` from coreutils uses no SHA extensions and is 6x slower here).
 *
 * @module
 */

import { join } from "node:path";
import { S3_ACCESS_KEY, S3_SECRET_KEY } from "./s3_process.ts";

/** Options of {@linkcode runBaseline}. */
export interface BaselineOptions {
  endpoint: string;
  /** Object key in bucket `cores`. */
  key: string;
  /** Where the compressed file is staged. */
  scratchDir: string;
  /** Also compute the raw core's SHA-256, as CoreDog does. */
  hash?: boolean;
}

/** One baseline run. */
export interface BaselineResult {
  /** From start to verified upload. */
  seconds: number;
  storedBytes: number;
  /** User + system CPU of the tools (zstd, curl, openssl). */
  cpuSeconds: number;
}

const SCRIPT = `
set -euo pipefail
sign=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEYS" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
if [ "$HASH" = 1 ]; then openssl dgst -sha256 -r "$CORE" > "$OUT.sha256" & fi
zstd -1 -T0 -q -f "$CORE" -o "$OUT"
wait
curl -sS -f "\${sign[@]}" -T "$OUT" "$URL" -o /dev/null
stored=$(curl -sS -f -I "\${sign[@]}" "$URL" | tr -d '\\r' | awk 'tolower($1) == "content-length:" { print $2 }')
[ "$stored" = "$(stat -c %s "$OUT")" ] || { echo "verification failed: stored $stored" >&2; exit 3; }
echo "stored $stored"
rm -f "$OUT" "$OUT.sha256"
times
`;

/** Compresses, uploads and verifies `corePath` with standard tools; throws when any step fails. */
export async function runBaseline(corePath: string, options: BaselineOptions): Promise<BaselineResult> {
  const out = join(options.scratchDir, `${crypto.randomUUID()}.zst`);
  const started = performance.now();
  const output = await new Deno.Command("bash", {
    args: ["-c", SCRIPT],
    env: {
      CORE: corePath,
      OUT: out,
      URL: `${options.endpoint}/cores/${options.key}`,
      KEYS: `${S3_ACCESS_KEY}:${S3_SECRET_KEY}`,
      HASH: options.hash ? "1" : "0",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`baseline failed: ${new TextDecoder().decode(output.stderr)}${text}`);
  }
  const storedBytes = Number(text.match(/^stored (\d+)/m)?.[1] ?? NaN);
  // `times` prints the shell's user/sys, then its children's: "0m1.234s 0m0.100s".
  const children = text.trim().split("\n").at(-1) ?? "";
  const cpuSeconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, m) => sum + Number(m[1]) * 60 + Number(m[2]),
    0,
  );
  return { seconds, storedBytes, cpuSeconds };
}
