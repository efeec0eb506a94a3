/**
 * The embedded configuration of the local quickstart (`deno task dev`):
 * dumps under `./.coredog/dumps`, cores stored in `./.coredog/bucket`,
 * messages printed to the console, no Kubernetes.
 *
 * @module
 */

import { resolve } from "node:path";

/**
 * Directory of the local quickstart: `COREDOG_DEV_DIR`, else `.coredog` in
 * the working directory.
 */
export function devDir(): string {
  return Deno.env.get("COREDOG_DEV_DIR") || ".coredog";
}

/** Where `deno task crash` crashes its process (namespace default, pod demo, container app). */
export const DEMO_CONTAINER_DIR = "dumps/default/demo/app";

/** The quickstart's configuration as YAML, with absolute paths under `baseDir`. */
export function devConfigYaml(baseDir: string): string {
  const base = resolve(baseDir);
  return [
    `CorefileDir: ${JSON.stringify(`${base}/dumps`)}`,
    "ClusterName: local",
    "StorageConfig:",
    "  protocol: local",
    `  CFSMountPath: ${JSON.stringify(`${base}/bucket`)}`,
    "  DeleteLocalCorefile: true",
    "NoticeChannel:",
    "  - chan: console",
    "Watcher:",
    '  Kubernetes: "off"',
    "  HealthPort: 9102",
    "",
  ].join("\n");
}
