/**
 * `coredog fetch URL --out FILE`: downloads a core from a link (the
 * presigned URL the debug pod's init container is given), decompresses
 * it and checks its SHA-256. Needs no configuration and no credentials.
 *
 * @module
 */

import { resolve } from "node:path";
import { Readable } from "node:stream";
import { humanBytes } from "../core/template.ts";
import { expectPositionals, oneOf, type ParsedArgs, positiveInteger, UsageError } from "./args.ts";
import type { CliIo, Command } from "./command.ts";
import { type Compression, COMPRESSIONS, writeVerifiedCore } from "./core_download.ts";
import { createProgress } from "./progress.ts";

/** The `fetch` verb. */
export const fetchCommand: Command = {
  name: "fetch",
  summary: "download a core from a link, decompressed and checked (the debug pod's init step)",
  flags: {
    out: { kind: "value", metavar: "FILE" },
    sha256: { kind: "value", metavar: "HEX" },
    compression: { kind: "value", metavar: "zstd|gzip|none" },
    "raw-bytes": { kind: "value", metavar: "N" },
    force: { kind: "switch" },
  },
  help: `Usage: coredog fetch URL --out FILE [--sha256 HEX] [--compression zstd|gzip|none] [--raw-bytes N]

Downloads URL (a presigned link to a stored core), decompresses it, checks the SHA-256 and size,
and writes the raw core to FILE through a temporary file in the same directory: a damaged
download leaves nothing under FILE. This is what the init container of "coredog debug" runs.

  --out FILE                 where to write the raw core
  --sha256 HEX               expected SHA-256 of the raw core (corefile.sha256 of the metadata)
  --compression C            how the object is compressed (default: from the URL, .zst or .gz, else none)
  --raw-bytes N              expected size of the raw core in bytes
  --force                    replace FILE when it exists

Example:
  coredog fetch "https://bucket.s3.example.com/corefiles/...core.zst?X-Amz-..." --out /cores/core \\
    --sha256 9b1c...e0 --compression zstd
`,
  async run(parsed: ParsedArgs, io: CliIo): Promise<number> {
    const [url] = expectPositionals(parsed, ["URL"]);
    if (!/^https?:\/\//.test(url)) throw new UsageError(`URL must start with http:// or https://, got "${url}"`);
    const out = parsed.flags.out;
    if (!out) throw new UsageError("--out FILE is required: where to write the core");
    const sha256 = parsed.flags.sha256;
    if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw new UsageError(`--sha256 must be 64 hex digits, got "${sha256}"`);
    }
    const compression: Compression = oneOf(parsed, "compression", COMPRESSIONS) ?? compressionOfUrl(url);
    const rawBytes = parsed.flags["raw-bytes"] === undefined ? undefined : positiveInteger(parsed, "raw-bytes", 0);
    const response = await fetch(url);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(
        `downloading the core failed: HTTP ${response.status} ${response.statusText}` +
          (response.status === 403 ? " (an expired or wrong presigned link: run coredog debug again)" : ""),
      );
    }
    const size = Number(response.headers.get("content-length") ?? 0);
    const progress = createProgress(size, { enabled: io.stderrIsTerminal, write: io.stderr });
    const target = resolve(out);
    const written = await writeVerifiedCore(Readable.fromWeb(response.body as never), target, {
      compression,
      sha256,
      rawBytes,
      force: parsed.flags.force === "true",
      onProgress: (done) => progress.update(done),
    }).finally(() => progress.finish());
    io.stderr(
      `wrote ${out} (${humanBytes(written.rawBytes)}${sha256 ? ", SHA-256 verified" : ""}, from ${compression})\n`,
    );
    return 0;
  },
};

function compressionOfUrl(url: string): Compression {
  const path = new URL(url).pathname;
  if (path.endsWith(".zst")) return "zstd";
  if (path.endsWith(".gz")) return "gzip";
  return "none";
}
