/**
 * `coredog get ID`: downloads one core, decompresses it, checks its
 * SHA-256 against the metadata and writes the raw core.
 *
 * @module
 */

import { resolve } from "node:path";
import { humanBytes } from "../core/template.ts";
import { expectPositionals, type ParsedArgs } from "./args.ts";
import { checkId, lookupCore } from "./catalog.ts";
import type { CliIo, Command } from "./command.ts";
import { CONFIG_FLAGS, CONFIG_HELP, loadCliConfig, openStore } from "./config_source.ts";
import { COMPRESSIONS, writeVerifiedCore } from "./core_download.ts";
import { FILTER_FLAGS, FILTER_HELP, filterOf } from "./list.ts";
import { createProgress } from "./progress.ts";

/** The `get` verb. */
export const getCommand: Command = {
  name: "get",
  summary: "download one core, decompressed and checked",
  flags: {
    ...FILTER_FLAGS,
    output: { short: "o", kind: "value", metavar: "FILE" },
    force: { kind: "switch" },
    ...CONFIG_FLAGS,
  },
  help: `Usage: coredog get ID [-o FILE] [--force] (--config FILE | --from-cluster)

Downloads the core, decompresses it (zstd, gzip or none, as stored), checks its SHA-256 against the
metadata and writes the raw core. The bytes go to a hidden temporary file beside FILE, renamed to
FILE only when the checksum matches: a damaged object leaves nothing under FILE. A progress bar is
drawn on stderr when it is a terminal.

  -o, --output FILE          where to write (default: core.<exe>.<pid>.<ID> in the current directory)
  --force                    replace FILE when it exists

${FILTER_HELP} (they narrow the search for ID on a large bucket)

${CONFIG_HELP}

Examples:
  coredog get 3f2a9c41d0e7 --from-cluster
  coredog get 3f2a9c41d0e7 --config coredog.yaml -o /tmp/core
  gdb ./server core.server.42.3f2a9c41d0e7
`,
  async run(parsed: ParsedArgs, io: CliIo): Promise<number> {
    const [id] = expectPositionals(parsed, ["ID"]);
    checkId(id);
    const filter = filterOf(parsed, io.now());
    const config = await loadCliConfig(parsed, io);
    const { reader, cache } = await openStore(config, { parsed, io });
    const { record } = await lookupCore(reader, config.storage.storeDir, { id, filter, cache });
    const corefile = record.corefile;
    if (!record.storage?.key || !corefile?.sha256) {
      throw new Error(`core ${record.id} was not stored: ${record.notStored ?? "its metadata names no object"}`);
    }
    if (!COMPRESSIONS.includes(corefile.compression)) {
      throw new Error(`core ${record.id} has compression "${corefile.compression}", which this coredog cannot read`);
    }
    const shown = parsed.flags.output ?? defaultName(record);
    const target = resolve(shown);
    const { body, size } = await reader.open(record.storage.key);
    const progress = createProgress(size, { enabled: io.stderrIsTerminal, write: io.stderr });
    const written = await writeVerifiedCore(body, target, {
      compression: corefile.compression,
      sha256: corefile.sha256,
      rawBytes: corefile.rawBytes,
      force: parsed.flags.force === "true",
      onProgress: (done) => progress.update(done),
    }).finally(() => progress.finish());
    io.stderr(`wrote ${shown} (${humanBytes(written.rawBytes)}, SHA-256 ${written.sha256} verified)\n`);
    return 0;
  },
};

function defaultName(record: { id: string; process: { executable?: string; pid?: number } }): string {
  const exe = (record.process.executable ?? "unknown").replace(/[^A-Za-z0-9._-]+/g, "_");
  return `core.${exe}.${record.process.pid ?? "0"}.${record.id.slice(0, 12)}`;
}
