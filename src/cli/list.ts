/**
 * `coredog list`: the stored cores, newest first, like `coredumpctl list`.
 *
 * @module
 */

import { type CoreFilter, parseSince } from "../core/core_listing.ts";
import { type FlagSpecs, oneOf, type ParsedArgs, positiveInteger, UsageError } from "./args.ts";
import { findCores } from "./catalog.ts";
import type { CliIo, Command } from "./command.ts";
import { CONFIG_FLAGS, CONFIG_HELP, loadCliConfig, openStore } from "./config_source.ts";
import { OUTPUT_FORMATS, renderList } from "./output.ts";

/** The filter flags `list` shares with `info`, `get` and `debug`. */
export const FILTER_FLAGS: FlagSpecs = {
  namespace: { short: "n", kind: "value", metavar: "NAMESPACE" },
  pod: { kind: "value", metavar: "NAME" },
  container: { kind: "value", metavar: "NAME" },
  since: { kind: "value", metavar: "DURATION|TIME" },
  signature: { kind: "value", metavar: "SIG" },
};

/** Help lines for {@linkcode FILTER_FLAGS}. */
export const FILTER_HELP = `Filters:
  -n, --namespace NAMESPACE  only this namespace (lists only its prefix of the bucket)
  --pod NAME                 only this pod (needs -n)
  --container NAME           only this container (needs --pod)
  --since DURATION|TIME      only crashes since then: 30m, 2h, 7d, 1h30m, or 2026-12-01T09:00:00Z
  --signature SIG            only crashes whose signature starts with SIG`;

/** The filter the flags describe. */
export function filterOf(parsed: ParsedArgs, nowMs: number): CoreFilter {
  const { namespace, pod, container, since, signature } = parsed.flags;
  if (pod !== undefined && namespace === undefined) {
    throw new UsageError("--pod needs -n NAMESPACE: pod names are only unique within a namespace");
  }
  if (container !== undefined && pod === undefined) {
    throw new UsageError("--container needs --pod NAME and -n NAMESPACE");
  }
  let sinceMs: number | undefined;
  if (since !== undefined) {
    sinceMs = parseSince(since, nowMs);
    if (sinceMs === undefined) {
      throw new UsageError(
        `--since "${since}" is neither a duration nor a time: use e.g. 30m, 2h, 7d, 1h30m or 2026-12-01T09:00:00Z`,
      );
    }
  }
  return { namespace, pod, container, sinceMs, signature };
}

/** The `list` verb. */
export const listCommand: Command = {
  name: "list",
  summary: "list stored cores, newest first",
  flags: {
    ...FILTER_FLAGS,
    output: { short: "o", kind: "value", metavar: "FORMAT" },
    limit: { kind: "value", metavar: "N" },
    ...CONFIG_FLAGS,
  },
  help: `Usage: coredog list [-n NAMESPACE [--pod NAME [--container NAME]]] [--since DURATION] [--signature SIG]
                    [--limit N] [-o wide|json|yaml] (--config FILE | --from-cluster)

Lists the cores stored under StorageConfig.StoreDir, newest first, from their metadata objects.

${FILTER_HELP}
  --limit N                  at most the N newest

Output:
  -o, --output FORMAT        table (default), wide (adds SIGNATURE, NODE, STORED, IMAGE), json or yaml

${CONFIG_HELP}

Examples:
  coredog list --config coredog.yaml
  coredog list --from-cluster -n team-a --since 2h
  coredog list --from-cluster -n team-a --pod web-7d9f8c6b5-x2x4q -o wide
  coredog list --config coredog.yaml -o json | jq -r '.[].id'
`,
  async run(parsed: ParsedArgs, io: CliIo): Promise<number> {
    if (parsed.positionals.length > 0) {
      throw new UsageError(`list takes no arguments (got "${parsed.positionals[0]}"); filter with -n, --pod, --since`);
    }
    const filter = filterOf(parsed, io.now());
    const format = oneOf(parsed, "output", OUTPUT_FORMATS) ?? "table";
    const limit = parsed.flags.limit === undefined ? undefined : positiveInteger(parsed, "limit", 0);
    const config = await loadCliConfig(parsed, io);
    const { reader, cache } = await openStore(config, { parsed, io });
    const cores = await findCores(reader, config.storage.storeDir, { ...filter, limit, cache });
    io.stdout(renderList(cores, format));
    if (cores.length === 0 && (format === "table" || format === "wide")) {
      io.stderr(`No cores found in ${reader.describe()}.\n`);
    }
    return 0;
  },
};
