/**
 * Command-line flags and environment variables of the watcher role.
 * A flag wins over its variable, which wins over the default.
 *
 * @module
 */

import { DEFAULT_CONFIG_PATH } from "../config_file.ts";
import { type FlagSpec, flagsUsage, parseFlags } from "../flag_parser.ts";

/** The watcher's settings from flags and environment. */
export interface WatcherFlags {
  configPath: string;
  /** Empty: with `Watcher.Kubernetes: auto`, `$KUBECONFIG`, the service account, then `~/.kube/config`. */
  kubeconfig: string;
  help: boolean;
}

/** Every flag, its variable, default and meaning; also the source of `--help`. */
export const WATCHER_FLAGS: readonly FlagSpec<Exclude<keyof WatcherFlags, "help">>[] = [
  {
    flag: "--config",
    env: "COREDOG_CONFIG",
    key: "configPath",
    kind: "string",
    default: DEFAULT_CONFIG_PATH,
    doc: "CoreDog configuration file",
  },
  {
    flag: "--kubeconfig",
    env: "COREDOG_KUBECONFIG",
    key: "kubeconfig",
    kind: "string",
    default: "",
    doc: "with Watcher.Kubernetes: auto, the kubeconfig file (its current context) for the API; empty means " +
      "$KUBECONFIG, then the pod's service account, then ~/.kube/config",
  },
];

/**
 * Reads the flags from `args` and `env`.
 *
 * @throws {FlagError} for an unknown flag or a missing value, naming the flag.
 */
export function parseWatcherFlags(args: string[], env: (name: string) => string | undefined): WatcherFlags {
  return parseFlags(args, WATCHER_FLAGS, { env }) as unknown as WatcherFlags;
}

/** The `--help` text. */
export function watcherUsage(): string {
  return flagsUsage("coredog-watcher", WATCHER_FLAGS);
}
