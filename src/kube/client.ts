/**
 * CoreDog's calls to the Kubernetes API, through `@kubernetes/client-node`:
 * the watcher reads pods (one at a time, or as a list and watch of its
 * node's pods) and records events; the webhook keeps its certificate in
 * its own Secret and its CA in the `caBundle` of its
 * MutatingWebhookConfiguration.
 *
 * Every call the watcher and the webhook make is a method of
 * {@linkcode KubeClient} (the `coredog` command's, run with the user's
 * own rights, are in `src/cli/cluster_api.ts`), so the chart's RBAC can be
 * checked against what the client really sends
 * (`tests/chart_rbac_test.ts`), and every failure becomes a
 * {@linkcode KubeApiError} or an `Error` that names what was asked.
 *
 * @module
 */

import * as k8s from "@kubernetes/client-node";
import type { PodObject } from "../core/pod_facts.ts";
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  KubeApiError,
  type MutatingWebhookConfigurationObject,
  type SecretObject,
} from "./api_objects.ts";
import { type KubeConnection, tokenFileConnection } from "./kube_config.ts";

/**
 * A connection with a bearer token file and a CA file, without a
 * kubeconfig; the token is read again for every request.
 */
export interface KubeClientOptions {
  /** e.g. `https://10.96.0.1:443`. */
  apiUrl: string;
  tokenPath: string;
  /** CA bundle that signed the API server's certificate; the system roots when omitted. */
  caPath?: string;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
}

/** Options of {@linkcode KubeClient.podListWatch}. */
export interface PodListWatchOptions {
  /**
   * Waits before a watch reconnects (client-node's backoff). client-node
   * reconnects after this wait even when the ListWatch was stopped during
   * it; a wait that never ends once its owner stopped prevents that.
   */
  delayFn?: (ms: number) => Promise<void>;
  /** How long a silent watch is trusted; {@linkcode WATCH_SILENCE_LIMIT_MS} by default. */
  silenceLimitMs?: number;
}

/**
 * A watch with no line (event or bookmark) for this long is taken as dead
 * and reconnected from its last resourceVersion. The API server sends a
 * bookmark about once a minute to a watch that allows them.
 */
export const WATCH_SILENCE_LIMIT_MS = 90_000;
/** The API server ends each watch after this long (the client reconnects from its resourceVersion). */
const WATCH_SERVER_TIMEOUT_SECONDS = 300;

/**
 * client-node's Watch, made to notice a dead connection and to report every
 * failure:
 *
 * - Under Deno, the undici response body of a watch neither ends nor fails
 *   when the API server goes away (a restart, a lost node), and aborting it
 *   ends nothing either, so client-node's own inactivity timer never calls
 *   `done`: the watch would hang for good and the pod cache go stale
 *   (found on the real kube-apiserver, restarted under a watch). So this
 *   asks for bookmarks and a server-side timeout, and reports a watch silent
 *   for {@linkcode WATCH_SILENCE_LIMIT_MS} as timed out, which ListWatch
 *   answers by reconnecting at once from its last resourceVersion.
 * - A failure before the request (an unreadable token or CA file, e.g.
 *   during a rotation) is reported to `done` like any other. client-node
 *   throws it instead, and as the ListWatch reconnects from a callback
 *   nobody awaits, that throw would be an unhandled rejection that ends the
 *   process.
 */
class ReportingWatch extends k8s.Watch {
  #silenceLimitMs: number;

  constructor(config: k8s.KubeConfig, silenceLimitMs: number) {
    super(config);
    this.#silenceLimitMs = silenceLimitMs;
    // Its timer (private, 30 s) aborts the request, which under Deno ends nothing; the silence check below
    // replaces it.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 2 ** 31 - 1;
  }

  override async watch(
    ...[path, queryParams, callback, done]: Parameters<k8s.Watch["watch"]>
  ): Promise<AbortController> {
    let finished = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | undefined;
    const finish = (error: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      controller?.abort();
      done(error);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        finish(new DOMException(`no watch event or bookmark for ${this.#silenceLimitMs} ms`, "TimeoutError"));
      }, this.#silenceLimitMs);
      Deno.unrefTimer(timer);
    };
    const query = { allowWatchBookmarks: true, timeoutSeconds: WATCH_SERVER_TIMEOUT_SECONDS, ...queryParams };
    arm();
    try {
      controller = await super.watch(path, query, (type, object, raw) => {
        arm();
        callback(type, object, raw);
      }, finish);
    } catch (error) {
      finish(error);
      controller = new AbortController();
    }
    return controller;
  }
}

/** Talks to the API server. */
export class KubeClient {
  /** The connection, as loaded. */
  readonly connection: KubeConnection;
  #core: k8s.CoreV1Api;
  #admission: k8s.AdmissionregistrationV1Api;
  #timeoutMs: number;

  /** From a loaded connection ({@linkcode loadKubeConnection}) or a token file and CA. */
  constructor(connection: KubeConnection | KubeClientOptions, options: { timeoutMs?: number } = {}) {
    if ("apiUrl" in connection) {
      this.connection = tokenFileConnection(connection.apiUrl, connection.tokenPath, { caFile: connection.caPath });
      this.#timeoutMs = options.timeoutMs ?? connection.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    } else {
      this.connection = connection;
      this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    }
    this.#core = this.connection.config.makeApiClient(k8s.CoreV1Api);
    this.#admission = this.connection.config.makeApiClient(k8s.AdmissionregistrationV1Api);
  }

  /** The pod, or undefined when it no longer exists. */
  async getPod(namespace: string, name: string): Promise<PodObject | undefined> {
    const pod = await this.#absentOn404(
      `get pod ${namespace}/${name}`,
      (options) => this.#core.readNamespacedPod({ namespace, name }, options),
    );
    return pod === undefined ? undefined : plain<PodObject>(pod);
  }

  /**
   * A list and watch of the pods that `fieldSelector` picks, in all
   * namespaces (client-node's informer): not started; the caller starts it
   * and restarts it after an error. Its objects are as the API sent them.
   */
  podListWatch(fieldSelector: string, options: PodListWatchOptions = {}): k8s.ListWatch<k8s.V1Pod> {
    const list = () =>
      this.#call(
        `list pods (${fieldSelector})`,
        (options) => this.#core.listPodForAllNamespaces({ fieldSelector }, options),
      );
    return new k8s.ListWatch<k8s.V1Pod>(
      "/api/v1/pods",
      new ReportingWatch(this.connection.config, options.silenceLimitMs ?? WATCH_SILENCE_LIMIT_MS),
      list,
      false,
      undefined,
      fieldSelector,
      options.delayFn ? { delayFn: options.delayFn } : undefined,
    );
  }

  /** Creates a core/v1 Event in `namespace`. */
  async createEvent(namespace: string, event: Record<string, unknown>): Promise<void> {
    await this.#call(
      `create event in ${namespace}`,
      (options) => this.#core.createNamespacedEvent({ namespace, body: event as unknown as k8s.CoreV1Event }, options),
    );
  }

  /** The Secret, or undefined when it does not exist. */
  async getSecret(namespace: string, name: string): Promise<SecretObject | undefined> {
    const secret = await this.#absentOn404(
      `get secret ${namespace}/${name}`,
      (options) => this.#core.readNamespacedSecret({ namespace, name }, options),
    );
    return secret === undefined ? undefined : plain<SecretObject>(secret);
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
    const written = await this.#call(
      `replace secret ${namespace}/${name}`,
      (options) =>
        this.#core.replaceNamespacedSecret({ namespace, name, body: secret as unknown as k8s.V1Secret }, options),
    );
    return plain<SecretObject>(written);
  }

  /** The MutatingWebhookConfiguration, or undefined when it does not exist. */
  async getMutatingWebhookConfiguration(name: string): Promise<MutatingWebhookConfigurationObject | undefined> {
    const configuration = await this.#absentOn404(
      `get mutatingwebhookconfiguration ${name}`,
      (options) => this.#admission.readMutatingWebhookConfiguration({ name }, options),
    );
    return configuration === undefined ? undefined : plain<MutatingWebhookConfigurationObject>(configuration);
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
    const patched = await this.#call(
      `patch mutatingwebhookconfiguration ${name}`,
      (options) => this.#admission.patchMutatingWebhookConfiguration({ name, body: patch }, options),
      // Without it client-node sends a JSON patch (a list of operations), which this merge patch is not.
      { contentType: k8s.PatchStrategy.StrategicMergePatch },
    );
    return plain<MutatingWebhookConfigurationObject>(patched);
  }

  /** Runs `call` with a timeout; a 404 gives undefined. */
  async #absentOn404<T>(
    what: string,
    call: (options: k8s.ConfigurationOptions) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await this.#call(what, call);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** Runs `call` with a timeout and turns its failure into an error that says what was asked. */
  async #call<T>(
    what: string,
    call: (options: k8s.ConfigurationOptions) => Promise<T>,
    request: { contentType?: string } = {},
  ): Promise<T> {
    const timeoutMs = this.#timeoutMs;
    const options: k8s.ConfigurationOptions = {
      middleware: [{
        pre: (context: k8s.RequestContext) => {
          context.setSignal(AbortSignal.timeout(timeoutMs));
          if (request.contentType) context.setHeaderParam("Content-Type", request.contentType);
          return new k8s.Observable(Promise.resolve(context));
        },
        post: (response: k8s.ResponseContext) => new k8s.Observable(Promise.resolve(response)),
      }],
      middlewareMergeStrategy: "append",
    };
    try {
      return await call(options);
    } catch (error) {
      throw describeFailure(error, what, { timeoutMs, server: this.connection.server });
    }
  }
}

/** client-node's failure as CoreDog logs it: status, reason and message of the API's Status, and what was asked. */
export function describeFailure(error: unknown, what: string, context: { timeoutMs: number; server: string }): Error {
  if (error instanceof k8s.ApiException) {
    const status = statusOf(error.body);
    const reason = status.reason ?? "";
    const message = status.message ?? (String(error.body ?? "").slice(0, 300) || "no message");
    return new KubeApiError(`${what}: HTTP ${error.code}${reason ? ` ${reason}` : ""}: ${message}`, error.code, reason);
  }
  const failure = error as Error;
  if (failure?.name === "TimeoutError" || failure?.name === "AbortError") {
    return new Error(`${what}: no answer from ${context.server} within ${context.timeoutMs} ms`, { cause: error });
  }
  // undici hides the socket's error (refused, TLS) in `cause`.
  const cause = (failure?.cause as Error | undefined)?.message;
  return new Error(`${what}: ${failure?.message ?? String(error)}${cause ? ` (${cause})` : ""}`, { cause: error });
}

/** The `reason` and `message` of a Status body, which client-node gives parsed or as text. */
function statusOf(body: unknown): { reason?: string; message?: string } {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return {};
    }
  }
  if (typeof value !== "object" || value === null) return {};
  const { reason, message } = value as { reason?: unknown; message?: unknown };
  return {
    reason: typeof reason === "string" ? reason : undefined,
    message: typeof message === "string" ? message : undefined,
  };
}

/**
 * A typed object of client-node as plain JSON (dates as strings, no class
 * instances); the fields CoreDog reads have the same names in both.
 */
function plain<T>(object: unknown): T {
  return JSON.parse(JSON.stringify(object)) as T;
}
