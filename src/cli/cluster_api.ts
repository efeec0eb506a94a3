/**
 * The Kubernetes API calls of the `coredog` command, made with the user's
 * own kubeconfig (so with the user's RBAC, not the chart's): read
 * ConfigMap `coredog` and the credentials Secret for `--from-cluster`, and
 * create and delete the debug pod.
 *
 * @module
 */

import * as k8s from "@kubernetes/client-node";
import { type CoredogConfig, parseConfig } from "../core/config.ts";
import type { CredentialOverrides } from "../core/credentials.ts";
import { type KubeConnection, loadKubeConnection } from "../kube/kube_config.ts";
import { fromBase64 } from "../tls/serving_bundle.ts";

/** Options of {@linkcode connectCluster}. */
export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  env: (name: string) => string | undefined;
}

/** The API calls `coredog` makes. */
export interface ClusterApi {
  /** Where it connects, for messages. */
  source: string;
  getConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** `exists` when a pod of that name is already there (left as it is). */
  createPod(namespace: string, pod: Record<string, unknown>): Promise<"created" | "exists">;
  /** False when there was no such pod. */
  deletePod(namespace: string, name: string): Promise<boolean>;
}

/** Connects with the kubeconfig the user would give kubectl. */
export function connectCluster(options: ConnectOptions): ClusterApi {
  const connection = loadKubeConnection({ kubeconfig: options.kubeconfig, env: options.env });
  if (!connection) {
    throw new Error("no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config");
  }
  if (options.context) useContext(connection, options.context);
  const core = connection.config.makeApiClient(k8s.CoreV1Api);
  const source = connection.source;

  async function absentOn404<T>(what: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw describe(error, what, source);
    }
  }

  return {
    source,
    async getConfigMap(namespace, name) {
      const map = await absentOn404(
        `get configmap ${namespace}/${name}`,
        () => core.readNamespacedConfigMap({ namespace, name }),
      );
      return map ? (map.data ?? {}) : undefined;
    },
    async getSecret(namespace, name) {
      const secret = await absentOn404(
        `get secret ${namespace}/${name}`,
        () => core.readNamespacedSecret({ namespace, name }),
      );
      if (!secret) return undefined;
      return Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([key, value]) => [key, fromBase64(value)]),
      );
    },
    async createPod(namespace, pod) {
      try {
        await core.createNamespacedPod({ namespace, body: pod as unknown as k8s.V1Pod });
        return "created";
      } catch (error) {
        if ((error as { code?: number }).code === 409) return "exists";
        throw describe(error, `create pod in ${namespace}`, source);
      }
    },
    async deletePod(namespace, name) {
      const deleted = await absentOn404(
        `delete pod ${namespace}/${name}`,
        () => core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }),
      );
      return deleted !== undefined;
    },
  };
}

/** Options of {@linkcode loadClusterConfig}. */
export interface ClusterConfigOptions extends ConnectOptions {
  /** Where CoreDog is installed. */
  namespace: string;
  /** The Secret with the S3 keys; undefined: `coredog-s3` when it exists. */
  secret?: string;
}

/** The chart's example name for the S3 credentials Secret (charts/values.yaml, `existingSecret`). */
const DEFAULT_SECRET = "coredog-s3";

/** The keys of that Secret (charts/values.yaml, `existingSecretKeys`). */
export const SECRET_KEYS = { accessKeyId: "access-key-id", secretAccessKey: "secret-access-key" } as const;

/** Reads ConfigMap `coredog` (key `coredog`) and the credentials Secret, as the watcher sees them. */
export async function loadClusterConfig(options: ClusterConfigOptions): Promise<CoredogConfig> {
  const api = connectCluster(options);
  const data = await api.getConfigMap(options.namespace, "coredog");
  if (!data) {
    throw new Error(
      `ConfigMap coredog not found in namespace ${options.namespace} (${api.source}); ` +
        "is CoreDog installed there? Pass --coredog-namespace NS, or --config FILE",
    );
  }
  if (data.coredog === undefined) {
    throw new Error(`ConfigMap ${options.namespace}/coredog has no key "coredog"; reinstall the chart`);
  }
  const secretName = options.secret ?? DEFAULT_SECRET;
  const secret = await api.getSecret(options.namespace, secretName);
  if (!secret && options.secret) {
    throw new Error(`Secret ${options.namespace}/${options.secret} not found (--secret); check the name`);
  }
  const credentials: CredentialOverrides = {};
  if (secret) {
    for (const [field, key] of Object.entries(SECRET_KEYS) as [keyof CredentialOverrides, string][]) {
      if (secret[key] === undefined) {
        throw new Error(
          `Secret ${options.namespace}/${secretName} has no key "${key}" (keys: ${Object.keys(secret).join(", ")})`,
        );
      }
      credentials[field] = { value: secret[key].trim(), source: "env" };
    }
  }
  return parseConfig(data.coredog, { source: `ConfigMap ${options.namespace}/coredog`, credentials });
}

function useContext(connection: KubeConnection, context: string): void {
  const known = connection.config.getContexts().map((c) => c.name);
  if (!known.includes(context)) {
    throw new Error(`--context ${context} is not in ${connection.source}; contexts: ${known.join(", ") || "none"}`);
  }
  connection.config.setCurrentContext(context);
  connection.source = connection.source.replace(/\(context [^)]*\)/, `(context ${context})`);
}

/**
 * An API call the server refused. `podSecurity` is the Pod Security level
 * (`baseline`, `restricted`) that refused it, when that admission plugin did.
 */
export class ApiRefusal extends Error {
  /** The level in the API server's `violates PodSecurity "<level>:<version>"`. */
  readonly podSecurity?: string;
  constructor(message: string, options: { podSecurity?: string } = {}) {
    super(message);
    this.name = "ApiRefusal";
    this.podSecurity = options.podSecurity;
  }
}

/**
 * The API server's answer in words. A 403 is RBAC's only when its message
 * says so (`User "..." cannot create resource "pods"`); admission plugins
 * (PodSecurity, quota, policy webhooks) answer 403 Forbidden too, and
 * asking for a permission does not help there.
 */
function describe(error: unknown, what: string, source: string): ApiRefusal {
  const code = (error as { code?: number }).code;
  const body = (error as { body?: unknown }).body;
  let reason = "";
  try {
    const status = typeof body === "string" ? JSON.parse(body) : body;
    reason = (status as { message?: string })?.message ?? "";
  } catch {
    reason = typeof body === "string" ? body.slice(0, 200) : "";
  }
  if (code === 403) {
    const podSecurity = /violates PodSecurity "([a-z]+):/.exec(reason)?.[1];
    if (podSecurity) {
      return new ApiRefusal(
        `${what}: refused by Pod Security admission, the namespace enforces level ${podSecurity} ` +
          `(label pod-security.kubernetes.io/enforce): ${reason}`,
        { podSecurity },
      );
    }
    if (/ cannot [a-z]+ resource /.test(reason)) {
      return new ApiRefusal(`${what}: forbidden for your user (${source}): ${reason}; ask for that permission`);
    }
    return new ApiRefusal(`${what}: refused by the API server's admission (${source}): ${reason}`);
  }
  if (code) return new ApiRefusal(`${what}: HTTP ${code}${reason ? `: ${reason}` : ""} (${source})`);
  return new ApiRefusal(`${what}: ${(error as Error).message} (${source})`);
}
