/**
 * `coredog info ID`: everything the metadata of one core holds.
 *
 * @module
 */

import { expectPositionals, oneOf, type ParsedArgs } from "./args.ts";
import { checkId, lookupCore } from "./catalog.ts";
import type { CliIo, Command } from "./command.ts";
import { CONFIG_FLAGS, CONFIG_HELP, loadCliConfig, openStore } from "./config_source.ts";
import { FILTER_FLAGS, FILTER_HELP, filterOf } from "./list.ts";
import { renderInfo } from "./output.ts";

/** The `info` verb. */
export const infoCommand: Command = {
  name: "info",
  summary: "show everything known about one core",
  flags: { ...FILTER_FLAGS, output: { short: "o", kind: "value", metavar: "FORMAT" }, ...CONFIG_FLAGS },
  help: `Usage: coredog info ID [-n NAMESPACE] [-o json|yaml] (--config FILE | --from-cluster)

Shows the metadata of one stored core: pod, container, image, signal, executable, sizes, SHA-256, keys.
ID is the ID column of "coredog list" (at least 6 hex digits) or a metadata object key.

Output:
  -o, --output FORMAT        text (default), json or yaml

${FILTER_HELP} (they narrow the search for ID on a large bucket)

${CONFIG_HELP}

Examples:
  coredog info 3f2a9c41d0e7 --from-cluster
  coredog info 3f2a9c41d0e7 --config coredog.yaml -o json
`,
  async run(parsed: ParsedArgs, io: CliIo): Promise<number> {
    const [id] = expectPositionals(parsed, ["ID"]);
    checkId(id);
    const filter = filterOf(parsed, io.now());
    const format = oneOf(parsed, "output", ["text", "json", "yaml"] as const) ?? "text";
    const config = await loadCliConfig(parsed, io);
    const { reader, cache } = await openStore(config, { parsed, io });
    const core = await lookupCore(reader, config.storage.storeDir, { id, filter, cache });
    io.stdout(renderInfo(core, format === "text" ? "table" : format));
    return 0;
  },
};
