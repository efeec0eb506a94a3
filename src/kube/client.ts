/**
 * A minimal Kubernetes API client. The watcher reads pods and records
 * events; the webhook keeps its certificate in its own Secret and its CA in
 * the `caBundle` of its MutatingWebhookConfiguration. Plain `fetch` with the
 * service account's CA and token; the token is read again for every request
 * because bound tokens rotate (about hourly).
 *
 * Every API call CoreDog makes goes through a `#request` in this file, so
 * that the chart's RBAC rules can be checked against it
 * (`tests/chart_rbac_test.ts`).
 *
 * @module
 */

import type { PodObject } from "../core/pod_facts.ts";

/** The parts of a v1 Secret that CoreDog reads and writes. */
export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  type?: string;
  /** Values are base64, as the API sends them. */
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** One webhook of a MutatingWebhookConfiguration, as far as CoreDog looks. */
export interface MutatingWebhook {
  name: string;
  clientConfig?: { caBundle?: string; service?: Record<string, unknown>; url?: string };
  [key: string]: unknown;
}

/** The parts of an admissionregistration.k8s.io/v1 MutatingWebhookConfiguration that CoreDog reads. */
export interface MutatingWebhookConfigurationObject {
  metadata: { name: string; resourceVersion?: string; [key: string]: unknown };
  webhooks?: MutatingWebhook[];
  [key: string]: unknown;
}

/** An answer of the API server that is not a success; `reason` is the Status reason, e.g. `Conflict`. */
export class KubeApiError extends Error {
  /** HTTP status, e.g. 409. */
  readonly status: number;
  /** The Status object's `reason`, e.g. `Conflict`, `Forbidden`, `NotFound`; empty when the body was no Status. */
  readonly reason: string;

  constructor(message: string, status: number, reason: string) {
    super(message);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
  }
}

/** True for the 409 the API answers when a write carried an outdated `resourceVersion`. */
export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 409;
}

/** How to reach the API server. */
export interface KubeClientOptions {
  /** e.g. `https://10.96.0.1:443`. */
  apiUrl: string;
  tokenPath: string;
  /** CA bundle that signed the API server's certificate. */
  caPath?: string;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The namespace of the pod's service account (mounted next to its token), or undefined outside a cluster. */
export function inClusterNamespace(): string | undefined {
  try {
    return Deno.readTextFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The in-cluster connection from `KUBERNETES_SERVICE_HOST`/`PORT` and the
 * mounted service account, or undefined outside a cluster.
 */
export function inClusterOptions(env: (name: string) => string | undefined): KubeClientOptions | undefined {
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT") ?? "443";
  if (!host) return undefined;
  try {
    Deno.statSync(`${SERVICE_ACCOUNT_DIR}/token`);
  } catch {
    return undefined;
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    apiUrl: `https://${hostPart}:${port}`,
    tokenPath: `${SERVICE_ACCOUNT_DIR}/token`,
    caPath: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
  };
}

/** Talks to the API server. */
export class KubeClient {
  #options: KubeClientOptions;
  #http: Deno.HttpClient | undefined;

  constructor(options: KubeClientOptions) {
    this.#options = options;
  }

  /** The pod, or undefined when it no longer exists. */
  async getPod(namespace: string, name: string): Promise<PodObject | undefined> {
    const response = await this.#request(
      "GET",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
    );
    return await this.#jsonOrAbsent(response, `get pod ${namespace}/${name}`) as PodObject | undefined;
  }

  /** Creates a core/v1 Event in `namespace`. */
  async createEvent(namespace: string, event: Record<string, unknown>): Promise<void> {
    const response = await this.#request("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
    await this.#json(response, `create event in ${namespace}`);
  }

  /** The Secret, or undefined when it does not exist. */
  async getSecret(namespace: string, name: string): Promise<SecretObject | undefined> {
    const response = await this.#request(
      "GET",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
    );
    return await this.#jsonOrAbsent(response, `get secret ${namespace}/${name}`) as SecretObject | undefined;
  }

  /**
   * Replaces the Secret (PUT). The `metadata.resourceVersion` it carries
   * makes the write conditional.
   *
   * @throws {KubeApiError} 409 when the Secret changed since it was read ({@linkcode isConflict}).
   */
  async updateSecret(secret: SecretObject): Promise<SecretObject> {
    const namespace = secret.metadata.namespace ?? "";
    const name = secret.metadata.name;
    const response = await this.#request(
      "PUT",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`,
      secret,
    );
    return await this.#json(response, `update secret ${namespace}/${name}`) as SecretObject;
  }

  /** The MutatingWebhookConfiguration, or undefined when it does not exist. */
  async getMutatingWebhookConfiguration(name: string): Promise<MutatingWebhookConfigurationObject | undefined> {
    const response = await this.#request(
      "GET",
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(name)}`,
    );
    return await this.#jsonOrAbsent(response, `get mutatingwebhookconfiguration ${name}`) as
      | MutatingWebhookConfigurationObject
      | undefined;
  }

  /**
   * Applies a strategic merge patch to the MutatingWebhookConfiguration:
   * `webhooks` entries merge by `name`, so a patch that names each webhook
   * and carries only its `clientConfig.caBundle` leaves everything else
   * alone. A `metadata.resourceVersion` in the patch makes it conditional.
   *
   * @throws {KubeApiError} 409 when a `resourceVersion` in the patch is outdated.
   */
  async patchMutatingWebhookConfiguration(
    name: string,
    patch: Record<string, unknown>,
  ): Promise<MutatingWebhookConfigurationObject> {
    const response = await this.#request(
      "PATCH",
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(name)}`,
      patch,
      "application/strategic-merge-patch+json",
    );
    return await this.#json(
      response,
      `patch mutatingwebhookconfiguration ${name}`,
    ) as MutatingWebhookConfigurationObject;
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }

  async #request(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<Response> {
    const token = (await Deno.readTextFile(this.#options.tokenPath)).trim();
    if (!this.#http && this.#options.caPath) {
      this.#http = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(this.#options.caPath)] });
    }
    return await fetch(`${this.#options.apiUrl}${path}`, {
      method,
      client: this.#http,
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/json",
        ...(body ? { "content-type": contentType } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5000),
    });
  }

  /** The body of a GET, or undefined when the object does not exist (404). */
  async #jsonOrAbsent(response: Response, what: string): Promise<unknown> {
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    return await this.#json(response, what);
  }

  async #json(response: Response, what: string): Promise<unknown> {
    const text = await response.text();
    if (!response.ok) {
      let message = text.slice(0, 300);
      let reason = "";
      try {
        const status = JSON.parse(text);
        message = status.message ?? message;
        reason = typeof status.reason === "string" ? status.reason : "";
      } catch {
        // not a Status object; keep the raw text
      }
      throw new KubeApiError(`${what}: HTTP ${response.status}: ${message}`, response.status, reason);
    }
    return JSON.parse(text);
  }
}
