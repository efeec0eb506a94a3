/**
 * Opens CoreDog's Kubernetes client only when there is a connection to
 * use. `@kubernetes/client-node` is loaded here with a dynamic `import()`:
 * its generated code (every API group, about 750 model classes, undici)
 * costs about 65 MiB of RSS once loaded, which a watcher off a cluster or
 * a webhook with certificate files should not pay. The roles import only
 * this module and types from `client.ts`.
 *
 * @module
 */

import type { KubeClient } from "./client.ts";
import { findKubeSource, type LoadKubeConnectionOptions } from "./kube_source.ts";

/** Options of {@linkcode openKubeClient}. */
export interface OpenKubeClientOptions extends LoadKubeConnectionOptions {
  /** Per-request timeout, ms; `DEFAULT_REQUEST_TIMEOUT_MS` by default. */
  timeoutMs?: number;
}

/**
 * The client of the connection that `--kubeconfig`, `KUBECONFIG`, the
 * pod's service account or `~/.kube/config` gives (first match wins), or
 * undefined when none does; the library is not loaded then.
 *
 * @throws {Error} when a kubeconfig that was named or found cannot be read
 * or has no current context, naming the file and the fix.
 */
export async function openKubeClient(options: OpenKubeClientOptions = {}): Promise<KubeClient | undefined> {
  const source = findKubeSource(options);
  if (!source) return undefined;
  const [{ connectionOf }, { KubeClient }] = await Promise.all([import("./kube_config.ts"), import("./client.ts")]);
  return new KubeClient(connectionOf(source), { timeoutMs: options.timeoutMs });
}
