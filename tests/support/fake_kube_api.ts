/**
 * A stand-in for kube-apiserver over real HTTPS. No kube-apiserver can run
 * here, so it answers with recorded object shapes and the API's own rules
 * for what CoreDog does:
 *
 * - pods: GET from recorded Pod objects (404 Status when missing); LIST and
 *   WATCH at cluster scope with `fieldSelector=spec.nodeName=<node>`, in the
 *   API's wire format (a PodList with `metadata.resourceVersion`; a watch
 *   stream of `{"type","object"}` lines from the given `resourceVersion` on).
 *   {@linkcode FakeKubeApi.putPod} and `deletePod` change pods as the API
 *   would, `closeWatches` ends every watch as a server does after its
 *   timeout, `compact` forgets history so a resumed watch gets the API's
 *   410 Expired ERROR event and must relist;
 * - pods in a namespace: POST creates (409 AlreadyExists when the name is
 *   taken), DELETE removes (404 when missing), as `coredog debug` does;
 * - configmaps: GET from `configMaps`;
 * - events: POST answers 201 with the object;
 * - secrets: GET and PUT, where a PUT carrying an outdated
 *   `metadata.resourceVersion` gets 409 Conflict, data must be base64, and
 *   each write bumps the resourceVersion;
 * - mutatingwebhookconfigurations: GET and strategic merge PATCH
 *   (`webhooks` merge by `name`; a `metadata.resourceVersion` in the patch
 *   is a precondition: 409 when outdated; an incomplete webhook is 422);
 * - no bearer token: 401; a request the `authorize` option refuses: 403
 *   with the API's Forbidden message (RBAC);
 * - a pod created in a namespace of the `podSecurity` option that enforces
 *   `baseline` and adds a capability outside the baseline list: 403 with
 *   the PodSecurity plugin's message, as kube-apiserver 1.35 words it
 *   (tests/cluster/scenarios/cli.ts sees it from the real one).
 */

import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/certificates.ts";

/** What RBAC looks at: the verb, the resource and the object. */
export interface RequestAttributes {
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";
  /** "" for the core group. */
  apiGroup: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/** Options of {@linkcode startFakeKubeApi}. */
export interface FakeKubeApiOptions {
  /** Secrets keyed `namespace/name`. */
  secrets?: Record<string, unknown>;
  /** ConfigMaps keyed `namespace/name`. */
  configMaps?: Record<string, unknown>;
  /** MutatingWebhookConfigurations keyed by name. */
  mutatingWebhookConfigurations?: Record<string, unknown>;
  /** RBAC: false answers 403. Everything is allowed by default. */
  authorize?(attributes: RequestAttributes): boolean;
  /** Pod Security levels enforced by namespace; only `baseline`'s capabilities rule is modelled. */
  podSecurity?: Record<string, "baseline">;
  /** Runs before each request is handled (after authorization); a test can hold requests here to order a race. */
  beforeHandling?(attributes: RequestAttributes): Promise<void> | void;
}

/** A running fake API server. */
export interface FakeKubeApi {
  url: string;
  caPem: string;
  /** Authorization headers received, in order. */
  authorizations: string[];
  /** Event bodies received. */
  events: Record<string, unknown>[];
  /** Every authorized request, in order. */
  requests: RequestAttributes[];
  /** Requests refused by `authorize`. */
  forbidden: RequestAttributes[];
  /** The stored Secrets (keyed `namespace/name`) and MutatingWebhookConfigurations (by name), as now. */
  secrets: Map<string, KubeObject>;
  mutatingWebhookConfigurations: Map<string, KubeObject>;
  /** The `resourceVersion` each watch request asked for, in order ("" for none). */
  watchResourceVersions: string[];
  /** Creates or replaces a pod (`namespace/name` from its metadata); open watches get ADDED or MODIFIED. */
  putPod(pod: Record<string, unknown>): void;
  /** Deletes a pod; open watches get DELETED. */
  deletePod(namespace: string, name: string): void;
  /** Ends every open watch stream, as the API server does when a watch's timeout is over. */
  closeWatches(): void;
  /** Forgets the change history: a watch resumed from an older resourceVersion gets 410 Expired. */
  compact(): void;
  /** Makes every request answer 503 while true (an API server that is down or restarting). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/** A stored object. */
export type KubeObject = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; resourceVersion?: string };
};

/** Serves `pods` (keyed `namespace/name`) and what `options` holds. */
export async function startFakeKubeApi(
  pods: Record<string, unknown>,
  options: FakeKubeApiOptions = {},
): Promise<FakeKubeApi> {
  const ca = await createCertificateAuthority({ commonName: "fake kube CA" });
  const leaf = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"], dnsNames: ["localhost"] });
  const authorizations: string[] = [];
  const events: Record<string, unknown>[] = [];
  const requests: RequestAttributes[] = [];
  const forbidden: RequestAttributes[] = [];
  const secrets = new Map(Object.entries(options.secrets ?? {}).map(([k, v]) => [k, structuredClone(v) as KubeObject]));
  const configurations = new Map(
    Object.entries(options.mutatingWebhookConfigurations ?? {}).map(([k, v]) => [k, structuredClone(v) as KubeObject]),
  );
  let resourceVersion = 5000;
  const nextVersion = () => String(++resourceVersion);
  const podStore = new Map(Object.entries(pods).map(([k, v]) => [k, structuredClone(v) as KubeObject]));
  for (const pod of podStore.values()) pod.metadata.resourceVersion ??= nextVersion();
  /** Changes after `compactedAt`, for watches that resume. */
  const history: { rv: number; type: string; object: KubeObject }[] = [];
  let compactedAt = resourceVersion;
  const watches = new Set<{ node?: string; send(type: string, object: KubeObject): void; end(): void }>();
  const watchResourceVersions: string[] = [];
  let down = false;

  function podChanged(type: "ADDED" | "MODIFIED" | "DELETED", pod: KubeObject): void {
    history.push({ rv: Number(pod.metadata.resourceVersion), type, object: structuredClone(pod) });
    for (const watch of watches) if (onNode(pod, watch.node)) watch.send(type, pod);
  }

  function servePodCollection(request: Request): Response {
    const query = new URL(request.url).searchParams;
    const node = nodeOf(query.get("fieldSelector"));
    if (query.get("watch") !== "true") {
      const items = [...podStore.values()].filter((pod) => onNode(pod, node));
      return Response.json({
        kind: "PodList",
        apiVersion: "v1",
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      });
    }
    const from = query.get("resourceVersion") ?? "";
    watchResourceVersions.push(from);
    const encoder = new TextEncoder();
    let watch: { node?: string; send(type: string, object: KubeObject): void; end(): void };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let open = true;
        watch = {
          node,
          send(type, object) {
            if (open) controller.enqueue(encoder.encode(JSON.stringify({ type, object }) + "\n"));
          },
          end() {
            if (!open) return;
            open = false;
            watches.delete(watch);
            controller.close();
          },
        };
        if (from !== "" && Number(from) < compactedAt) {
          // What kube-apiserver sends for a resourceVersion older than its history: 200, one ERROR event, the end.
          watch.send("ERROR", {
            kind: "Status",
            apiVersion: "v1",
            metadata: { name: "" },
            status: "Failure",
            message: `too old resource version: ${from} (${compactedAt})`,
            reason: "Expired",
            code: 410,
          } as unknown as KubeObject);
          watch.end();
          return;
        }
        watches.add(watch);
        for (const change of history) {
          if (change.rv > Number(from || 0) && onNode(change.object, node)) watch.send(change.type, change.object);
        }
      },
      cancel() {
        watches.delete(watch);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }

  async function handle(request: Request): Promise<Response> {
    const auth = request.headers.get("authorization") ?? "";
    authorizations.push(auth);
    if (!auth.startsWith("Bearer ")) return status(401, "Unauthorized", "Unauthorized");
    if (down) return status(503, "ServiceUnavailable", "the API server is restarting");
    const url = new URL(request.url);
    const attributes = attributesOf(request.method, url.pathname, url.searchParams);
    if (!attributes) return status(404, "NotFound", "the server could not find the requested resource");
    if (options.authorize && !options.authorize(attributes)) {
      forbidden.push(attributes);
      return status(403, "Forbidden", forbiddenMessage(attributes), attributes);
    }
    requests.push(attributes);
    await options.beforeHandling?.(attributes);
    const { verb, resource, namespace, name } = attributes;
    // Bodies are read before the stored object, so that the check of the resourceVersion and the write
    // happen with no await in between, as one step, like etcd's compare-and-swap.
    // client-node sends DELETE with an empty body.
    const text = request.body ? await request.text() : "";
    const body = text ? JSON.parse(text) as KubeObject : undefined;
    if (resource === "pods" && (verb === "list" || verb === "watch") && !namespace) return servePodCollection(request);
    if (resource === "pods" && verb === "get") {
      const object = podStore.get(`${namespace}/${name}`);
      return object ? Response.json(object) : notFound(attributes);
    }
    if (resource === "pods" && verb === "create" && body && namespace) {
      const key = `${namespace}/${body.metadata?.name}`;
      if (podStore.has(key)) {
        return status(409, "AlreadyExists", `pods "${body.metadata.name}" already exists`, attributes);
      }
      const violation = options.podSecurity?.[namespace] === "baseline" ? baselineCapabilities(body) : undefined;
      if (violation) {
        return status(
          403,
          "Forbidden",
          `pods "${body.metadata.name}" is forbidden: violates PodSecurity "baseline:latest": ${violation}`,
          attributes,
        );
      }
      const object = { ...body, metadata: { ...body.metadata, namespace, uid: crypto.randomUUID() } } as KubeObject;
      object.metadata.resourceVersion = nextVersion();
      podStore.set(key, object);
      podChanged("ADDED", object);
      return Response.json(object, { status: 201 });
    }
    if (resource === "pods" && verb === "delete") {
      const object = podStore.get(`${namespace}/${name}`);
      if (!object) return notFound(attributes);
      podStore.delete(`${namespace}/${name}`);
      podChanged("DELETED", { ...object, metadata: { ...object.metadata, resourceVersion: nextVersion() } });
      return Response.json(object);
    }
    if (resource === "configmaps" && verb === "get") {
      const object = options.configMaps?.[`${namespace}/${name}`];
      return object ? Response.json(object) : notFound(attributes);
    }
    if (resource === "events" && verb === "create" && body) {
      events.push(body);
      const metadata = { ...body.metadata, name: `${body.metadata.generateName}abcde`, uid: crypto.randomUUID() };
      return Response.json({ ...body, metadata }, { status: 201 });
    }
    if (resource === "secrets") {
      const key = `${namespace}/${name}`;
      const stored = secrets.get(key);
      if (!stored) return notFound(attributes);
      if (verb === "get") return Response.json(stored);
      if (verb === "update" && body) {
        if (body.metadata?.name !== name || (body.metadata.namespace ?? namespace) !== namespace) {
          return status(
            400,
            "BadRequest",
            `the name of the object (${body.metadata?.name}) does not match the name on the URL (${name})`,
          );
        }
        const given = body.metadata.resourceVersion;
        if (given !== undefined && given !== stored.metadata.resourceVersion) return conflict(attributes);
        for (const [field, value] of Object.entries((body.data ?? {}) as Record<string, string>)) {
          if (!isBase64(value)) {
            return status(
              400,
              "BadRequest",
              `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (data.${field})`,
            );
          }
        }
        const updated = { ...body, metadata: { ...stored.metadata, ...body.metadata, resourceVersion: nextVersion() } };
        secrets.set(key, updated);
        return Response.json(updated);
      }
    }
    if (resource === "mutatingwebhookconfigurations") {
      const stored = configurations.get(name ?? "");
      if (!stored) return notFound(attributes);
      if (verb === "get") return Response.json(stored);
      if (verb === "patch" && body) {
        const type = request.headers.get("content-type") ?? "";
        if (type !== "application/strategic-merge-patch+json") {
          return status(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
          );
        }
        const patch = body;
        const given = patch.metadata?.resourceVersion;
        if (given !== undefined && given !== stored.metadata.resourceVersion) return conflict(attributes);
        const merged = strategicMerge(stored, patch);
        const problem = invalidWebhook(merged);
        if (problem) {
          return status(
            422,
            "Invalid",
            `MutatingWebhookConfiguration.admissionregistration.k8s.io "${name}" is invalid: ${problem}`,
          );
        }
        merged.metadata.resourceVersion = nextVersion();
        configurations.set(name!, merged);
        return Response.json(merged);
      }
    }
    return status(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: leaf.certPem, key: leaf.keyPem, onListen() {} },
    handle,
  );
  return {
    url: `https://127.0.0.1:${server.addr.port}`,
    caPem: ca.certPem,
    authorizations,
    events,
    requests,
    forbidden,
    secrets,
    mutatingWebhookConfigurations: configurations,
    watchResourceVersions,
    putPod(pod) {
      const object = structuredClone(pod) as KubeObject;
      const key = `${object.metadata.namespace}/${object.metadata.name}`;
      const type = podStore.has(key) ? "MODIFIED" : "ADDED";
      object.metadata.resourceVersion = nextVersion();
      podStore.set(key, object);
      podChanged(type, object);
    },
    deletePod(namespace, name) {
      const object = podStore.get(`${namespace}/${name}`);
      if (!object) return;
      podStore.delete(`${namespace}/${name}`);
      podChanged("DELETED", { ...object, metadata: { ...object.metadata, resourceVersion: nextVersion() } });
    },
    closeWatches() {
      for (const watch of [...watches]) watch.end();
    },
    compact() {
      history.length = 0;
      compactedAt = resourceVersion;
    },
    setDown(value) {
      down = value;
      if (down) { for (const watch of [...watches]) watch.end(); }
    },
    async close() {
      for (const watch of [...watches]) watch.end();
      await server.shutdown();
    },
  };
}

/** The RBAC attributes of a request path, as the API server derives them; undefined for paths it does not serve. */
export function attributesOf(
  method: string,
  path: string,
  query: URLSearchParams = new URLSearchParams(),
): RequestAttributes | undefined {
  if (path === "/api/v1/pods" && method === "GET") {
    return { verb: query.get("watch") === "true" ? "watch" : "list", apiGroup: "", resource: "pods" };
  }
  const core = path.match(/^\/api\/v1\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?$/);
  const grouped = path.match(/^\/apis\/([^/]+)\/[^/]+\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?$/);
  let apiGroup: string, resource: string, namespace: string | undefined, name: string | undefined;
  if (core) {
    [apiGroup, namespace, resource, name] = ["", decodeURIComponent(core[1]), core[2], core[3]];
  } else if (grouped) {
    [apiGroup, namespace, resource, name] = [grouped[1], grouped[2], grouped[3], grouped[4]];
  } else {
    return undefined;
  }
  name = name === undefined ? undefined : decodeURIComponent(name);
  const verbs: Record<string, RequestAttributes["verb"]> = {
    GET: name ? "get" : "list",
    POST: "create",
    PUT: "update",
    PATCH: "patch",
    DELETE: "delete",
  };
  const verb = verbs[method];
  if (!verb) return undefined;
  return { verb, apiGroup, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

/** `base` with `patch` merged in: objects merge, `null` deletes, lists of objects with `name` merge by name. */
function strategicMerge(base: KubeObject, patch: KubeObject): KubeObject {
  return mergeValue(structuredClone(base), patch) as KubeObject;
}

function mergeValue(base: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) {
    if (!Array.isArray(base) || !patch.every((item) => isObject(item) && typeof item.name === "string")) return patch;
    const result = [...base];
    for (const item of patch as Record<string, unknown>[]) {
      const at = result.findIndex((existing) => isObject(existing) && existing.name === item.name);
      if (at === -1) result.push(item);
      else result[at] = mergeValue(result[at], item);
    }
    return result;
  }
  if (!isObject(patch) || !isObject(base)) return patch;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergeValue(result[key], value);
  }
  return result;
}

function invalidWebhook(configuration: KubeObject): string | undefined {
  const webhooks = (configuration.webhooks ?? []) as Record<string, Record<string, unknown>>[];
  for (const [i, webhook] of webhooks.entries()) {
    if (!webhook.sideEffects) return `webhooks[${i}].sideEffects: Required value`;
    if (!Array.isArray(webhook.admissionReviewVersions)) {
      return `webhooks[${i}].admissionReviewVersions: Required value`;
    }
    const client = webhook.clientConfig ?? {};
    if (!client.service && !client.url) {
      return `webhooks[${i}].clientConfig: Required value: exactly one of url or service is required`;
    }
    if (client.caBundle !== undefined && !isBase64(String(client.caBundle))) {
      return `webhooks[${i}].clientConfig.caBundle: illegal base64 data`;
    }
  }
  return undefined;
}

/** The node of a `spec.nodeName=<node>` field selector; undefined for none. */
function nodeOf(selector: string | null): string | undefined {
  const match = (selector ?? "").match(/^spec\.nodeName=(.+)$/);
  return match ? match[1] : undefined;
}

function onNode(pod: KubeObject, node: string | undefined): boolean {
  return node === undefined || (pod.spec as { nodeName?: string } | undefined)?.nodeName === node;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isBase64(value: string): boolean {
  try {
    atob(value);
    return true;
  } catch {
    return false;
  }
}

function notFound(attributes: RequestAttributes): Response {
  return status(404, "NotFound", `${attributes.resource} "${attributes.name}" not found`, attributes);
}

function conflict(attributes: RequestAttributes): Response {
  const kind = attributes.apiGroup ? `${attributes.resource}.${attributes.apiGroup}` : attributes.resource;
  return status(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${kind} "${attributes.name}": the object has been modified; please apply your changes to the latest version and try again`,
    attributes,
  );
}

/** The service account named in Forbidden messages. */
const USER = "system:serviceaccount:coredog-system:coredog-webhook";

/** The capabilities Pod Security's baseline level lets a container add. */
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);

/** Baseline's "non-default capabilities" check, worded as the PodSecurity plugin words it. */
function baselineCapabilities(pod: KubeObject): string | undefined {
  type Container = { name: string; securityContext?: { capabilities?: { add?: string[] } } };
  const spec = pod.spec as { initContainers?: Container[]; containers?: Container[] } | undefined;
  const containers = [...spec?.initContainers ?? [], ...spec?.containers ?? []];
  const bad = containers.filter((c) =>
    c.securityContext?.capabilities?.add?.some((a) => !BASELINE_CAPABILITIES.has(a))
  );
  if (bad.length === 0) return undefined;
  const capabilities = [...new Set(bad.flatMap((c) => c.securityContext!.capabilities!.add!))]
    .filter((a) => !BASELINE_CAPABILITIES.has(a)).sort();
  const quote = (names: string[]) => names.map((n) => `"${n}"`).join(", ");
  return `non-default capabilities (${bad.length === 1 ? "container" : "containers"} ${
    quote(bad.map((c) => c.name))
  } ` +
    `must not include ${quote(capabilities)} in securityContext.capabilities.add)`;
}

function forbiddenMessage(attributes: RequestAttributes): string {
  const where = attributes.namespace ? ` in the namespace "${attributes.namespace}"` : " at the cluster scope";
  const what = attributes.name ? `${attributes.resource} "${attributes.name}"` : attributes.resource;
  return `${what} is forbidden: User "${USER}" cannot ${attributes.verb} resource "${attributes.resource}" in API group "${attributes.apiGroup}"${where}`;
}

function status(code: number, reason: string, message: string, attributes?: RequestAttributes): Response {
  const details = attributes?.name ? { details: { name: attributes.name, kind: attributes.resource } } : {};
  return Response.json(
    { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...details, code },
    { status: code },
  );
}
