/**
 * A minimal Kubernetes API client for the watcher: read a pod, record an
 * event. Plain `fetch` with the service account's CA and token; the token is
 * read again for every request because bound tokens rotate (about hourly).
 *
 * @module
 */

import type { PodObject } from "../core/pod_facts.ts";

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
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    return await this.#json(response, `get pod ${namespace}/${name}`) as PodObject;
  }

  /** Creates a core/v1 Event in `namespace`. */
  async createEvent(namespace: string, event: Record<string, unknown>): Promise<void> {
    const response = await this.#request("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
    await this.#json(response, `create event in ${namespace}`);
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }

  async #request(method: string, path: string, body?: unknown): Promise<Response> {
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
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5000),
    });
  }

  async #json(response: Response, what: string): Promise<unknown> {
    const text = await response.text();
    if (!response.ok) {
      let message = text.slice(0, 300);
      try {
        message = JSON.parse(text).message ?? message;
      } catch {
        // not a Status object; keep the raw text
      }
      throw new Error(`${what}: HTTP ${response.status}: ${message}`);
    }
    return JSON.parse(text);
  }
}
