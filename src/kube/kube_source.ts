/**
 * Which Kubernetes connection CoreDog would use, found without loading
 * `@kubernetes/client-node`, so that a role without one (a watcher off a
 * cluster, a webhook with certificate files) never pays for the library.
 * The order, first match wins: an explicit `--kubeconfig` file, the
 * `KUBECONFIG` variable (a list of files), the pod's service account, then
 * `~/.kube/config`.
 *
 * @module
 */

import fs from "node:fs";
import { join, resolve } from "node:path";

/** Where the service account's files are mounted in a pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Options of {@linkcode findKubeSource}. */
export interface LoadKubeConnectionOptions {
  /** An explicit kubeconfig file (`--kubeconfig`); wins over everything else. */
  kubeconfig?: string;
  /** The environment; `Deno.env.get` by default. */
  env?: (name: string) => string | undefined;
  /** Prefixed to the service account's standard mount; "" by default (tests point it elsewhere). */
  inClusterRoot?: string;
}

/** Kubeconfig files (merged as kubectl does), or the pod's service account. */
export type KubeSource =
  | { kind: "kubeconfig"; files: string[]; origin: "--kubeconfig" | "KUBECONFIG" | "~/.kube/config" }
  | { kind: "in-cluster"; root: string; env: (name: string) => string | undefined };

/** The connection's source, or undefined when there is none; nothing is read but whether files exist. */
export function findKubeSource(options: LoadKubeConnectionOptions = {}): KubeSource | undefined {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  if (options.kubeconfig) return { kind: "kubeconfig", files: [resolve(options.kubeconfig)], origin: "--kubeconfig" };
  const listed = (env("KUBECONFIG") ?? "").split(":").filter((file) => file);
  if (listed.length > 0) {
    return {
      kind: "kubeconfig",
      files: listed.map((file) => resolve(file)),
      origin: "KUBECONFIG",
    };
  }
  const root = options.inClusterRoot ?? "";
  if (env("KUBERNETES_SERVICE_HOST") && fileExists(`${root}${SERVICE_ACCOUNT_DIR}/token`)) {
    return { kind: "in-cluster", root, env };
  }
  const home = env("HOME");
  const homeConfig = home ? join(home, ".kube", "config") : "";
  if (homeConfig && fileExists(homeConfig)) {
    return { kind: "kubeconfig", files: [homeConfig], origin: "~/.kube/config" };
  }
  return undefined;
}

function fileExists(path: string): boolean {
  try {
    fs.accessSync(path);
    return true;
  } catch {
    return false;
  }
}
