/**
 * Where a verb gets CoreDog's configuration: the watcher's own file
 * (`--config FILE`, or `COREDOG_CONFIG`), or the cluster (`--from-cluster`:
 * ConfigMap `coredog` and the credentials Secret in `coredog-system`, read
 * with the user's kubeconfig).
 *
 * @module
 */

import type { CoredogConfig } from "../core/config.ts";
import { loadConfigFile } from "../config_file.ts";
import { type FlagSpecs, type ParsedArgs, UsageError } from "./args.ts";
import { loadClusterConfig } from "./cluster_api.ts";
import type { CliIo } from "./command.ts";
import { cacheDir, type MetadataCache, NO_CACHE, openMetadataCache } from "./metadata_cache.ts";
import { createStoreReader, type StoreReader } from "./store_reader.ts";

/** The flags every verb that reads the store takes. */
export const CONFIG_FLAGS: FlagSpecs = {
  config: { kind: "value", metavar: "FILE" },
  "from-cluster": { kind: "switch" },
  kubeconfig: { kind: "value", metavar: "FILE" },
  context: { kind: "value", metavar: "NAME" },
  "coredog-namespace": { kind: "value", metavar: "NAMESPACE" },
  secret: { kind: "value", metavar: "NAME" },
  "no-cache": { kind: "switch" },
};

/** Help lines for {@linkcode CONFIG_FLAGS}. */
export const CONFIG_HELP = `Configuration (one of):
  --config FILE              the watcher's configuration file (default: $COREDOG_CONFIG)
  --from-cluster             read ConfigMap coredog and the credentials Secret with your kubeconfig
    --kubeconfig FILE        kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config; also for debug)
    --context NAME           kubeconfig context (default: the current one; also for debug)
    --coredog-namespace NS   where CoreDog is installed (default: coredog-system)
    --secret NAME            the Secret with the S3 keys access-key-id and secret-access-key
                             (default: coredog-s3 when it exists, else the ConfigMap's own keys)
  --no-cache                 read every metadata object again instead of the copies kept in
                             $COREDOG_CACHE_DIR, else $XDG_CACHE_HOME/coredog or ~/.cache/coredog`;

/** Where CoreDog is installed unless `--coredog-namespace` says otherwise. */
export const DEFAULT_COREDOG_NAMESPACE = "coredog-system";

/** The store the configuration names, and the metadata cache for it (none with `--no-cache`). */
export async function openStore(
  config: CoredogConfig,
  input: { parsed: ParsedArgs; io: CliIo },
): Promise<{ reader: StoreReader; cache: MetadataCache }> {
  const reader = createStoreReader(config.storage);
  const dir = cacheDir(input.io.env);
  const cache = dir && input.parsed.flags["no-cache"] !== "true"
    ? await openMetadataCache(dir, reader.identity)
    : NO_CACHE;
  return { reader, cache };
}

/** Loads the configuration the flags name. */
export async function loadCliConfig(parsed: ParsedArgs, io: CliIo): Promise<CoredogConfig> {
  const file = parsed.flags.config;
  const fromCluster = parsed.flags["from-cluster"] === "true";
  if (file && fromCluster) throw new UsageError("give --config FILE or --from-cluster, not both");
  for (const flag of ["coredog-namespace", "secret"]) {
    if (parsed.flags[flag] !== undefined && !fromCluster) {
      throw new UsageError(`--${flag} only applies with --from-cluster`);
    }
  }
  if (fromCluster) {
    return await loadClusterConfig({
      kubeconfig: parsed.flags.kubeconfig,
      context: parsed.flags.context,
      namespace: parsed.flags["coredog-namespace"] ?? DEFAULT_COREDOG_NAMESPACE,
      secret: parsed.flags.secret,
      env: io.env,
    });
  }
  const path = file ?? io.env("COREDOG_CONFIG");
  if (!path) {
    throw new UsageError(
      "no configuration: pass --config FILE (the watcher's coredog.yaml), set COREDOG_CONFIG, or pass --from-cluster",
    );
  }
  return await loadConfigFile(path, { env: io.env });
}
