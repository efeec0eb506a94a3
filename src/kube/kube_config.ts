/**
 * Where CoreDog's Kubernetes connection comes from, with the usual rules:
 * an explicit `--kubeconfig` file, then the `KUBECONFIG` variable (a list of
 * files, merged as kubectl does), then the pod's service account
 * (`KubeConfig.loadFromCluster()`), then `~/.kube/config`; the current
 * context of the kubeconfig picks the cluster and user.
 *
 * Bound service-account tokens rotate (about hourly, and a TokenRequest
 * token can be rewritten at any time), so a token that comes from a file is
 * read again for every request. client-node alone does not do that: its
 * in-cluster authenticator re-reads the file only once a minute and keeps
 * the trailing newline, and its kubeconfig loader ignores kubectl's
 * `tokenFile` field (it knows only a `token-file` that it reads once).
 * The current user's token file is therefore handed to
 * {@linkcode TokenFileAuthenticator} instead.
 *
 * @module
 */

import fs from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { findKubeSource, type KubeSource, type LoadKubeConnectionOptions, SERVICE_ACCOUNT_DIR } from "./kube_source.ts";

export { SERVICE_ACCOUNT_DIR };
export type { LoadKubeConnectionOptions };

/** The provider name under which a user's token file is read by {@linkcode TokenFileAuthenticator}. */
const TOKEN_FILE_PROVIDER = "coredog-token-file";

/** A loaded connection and where it came from, for the start-up log. */
export interface KubeConnection {
  config: k8s.KubeConfig;
  /** e.g. `kubeconfig /home/me/.kube/config (context kind-dev)`, `in-cluster service account`. */
  source: string;
  /** The API server's URL. */
  server: string;
  /** The namespace of the current context (the service account's namespace in a pod), if any. */
  namespace?: string;
  /** True for the pod's own service account (`loadFromCluster()`). */
  inCluster: boolean;
}

/**
 * The connection to use, or undefined when there is none: no
 * `--kubeconfig`, no `KUBECONFIG`, not in a pod, no `~/.kube/config`.
 *
 * @throws {Error} when a kubeconfig that was named or found cannot be read
 * or has no current context, naming the file and the fix.
 */
export function loadKubeConnection(options: LoadKubeConnectionOptions = {}): KubeConnection | undefined {
  const source = findKubeSource(options);
  return source ? connectionOf(source) : undefined;
}

/**
 * The connection of a source that {@linkcode findKubeSource} found.
 *
 * @throws {Error} as {@linkcode loadKubeConnection}.
 */
export function connectionOf(source: KubeSource): KubeConnection {
  if (source.kind === "in-cluster") return inCluster(source.env, source.root);
  return fromKubeconfigFiles(source.files, source.origin);
}

/** The service account's namespace when running in a pod, else undefined. */
function inClusterNamespace(serviceAccountDir = SERVICE_ACCOUNT_DIR): string | undefined {
  try {
    return fs.readFileSync(join(serviceAccountDir, "namespace"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A connection to `server` with a bearer token read from `tokenFile` for
 * every request, trusting `caFile` (the system roots when omitted). The same
 * shape as a kubeconfig with `tokenFile:` and `certificate-authority:`.
 */
export function tokenFileConnection(
  server: string,
  tokenFile: string,
  options: { caFile?: string } = {},
): KubeConnection {
  const config = new Http1KubeConfig();
  config.loadFromClusterAndUser(
    { name: "coredog", server, caFile: options.caFile, skipTLSVerify: false },
    { name: "coredog", authProvider: { name: TOKEN_FILE_PROVIDER, config: { path: tokenFile } } },
  );
  config.addAuthenticator(new TokenFileAuthenticator());
  return { config, source: `token file ${tokenFile}`, server, inCluster: false };
}

/**
 * A KubeConfig whose connections speak HTTP/1.1 only. undici offers HTTP/2,
 * the API server takes it, and on Deno an HTTP/2 GOAWAY from the server (a
 * restart, `--goaway-chance`, a closed watch) can abort the whole process
 * in nghttp2 (`find_stream_on_goaway_func: Assertion failed`); HTTP/1.1 is
 * what client-go's watches use too.
 */
/** undici reads `allowH2` from the connect options it is given. */
type HttpOneConnect = k8s.ConnectOptions & { allowH2: false };

class Http1KubeConfig extends k8s.KubeConfig {
  /** client-node's dispatcher options, with HTTP/2 turned off, also where it would use undici's global dispatcher. */
  override createDispatcherOptions(
    ...args: Parameters<k8s.KubeConfig["createDispatcherOptions"]>
  ): k8s.DispatcherOptions {
    const options = super.createDispatcherOptions(...args);
    if (options.type === "none") {
      const connect: HttpOneConnect = { allowH2: false, keepAlive: true, keepAliveInitialDelay: 30000 };
      return { type: "agent", connect };
    }
    if (options.type === "agent") {
      const connect: HttpOneConnect = { ...options.connect, allowH2: false };
      return { ...options, connect };
    }
    return options;
  }
}

/** client-node's authenticator interface (not exported by name). */
type Authenticator = Parameters<k8s.KubeConfig["addAuthenticator"]>[0];

/** Sets `Authorization: Bearer <token>` from the user's token file, read for each request. */
class TokenFileAuthenticator implements Authenticator {
  /** True for users whose token comes from a file. */
  isAuthProvider(user: k8s.User): boolean {
    return user.authProvider?.name === TOKEN_FILE_PROVIDER;
  }

  /** Reads the token file now, so that a rotated token is used at once. */
  async applyAuthentication(user: k8s.User, opts: Parameters<Authenticator["applyAuthentication"]>[1]): Promise<void> {
    const path = String(user.authProvider?.config?.path ?? "");
    let token: string;
    try {
      token = (await Deno.readTextFile(path)).trim();
    } catch (error) {
      throw new Error(`cannot read the Kubernetes token file ${path}: ${(error as Error).message}`);
    }
    if (!token) throw new Error(`the Kubernetes token file ${path} is empty`);
    opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
  }
}

function inCluster(env: (name: string) => string | undefined, root: string): KubeConnection {
  const saDir = `${root}${SERVICE_ACCOUNT_DIR}`;
  const config = new Http1KubeConfig();
  config.loadFromCluster(root);
  if (!env("KUBERNETES_SERVICE_PORT")) {
    // loadFromCluster would build `https://host:undefined`; 443 is what the Service listens on.
    const cluster = config.getCurrentCluster()!;
    replaceCluster(config, { ...cluster, server: cluster.server.replace(/:undefined$/, ":443") });
  }
  useTokenFile(config, join(saDir, "token"));
  return {
    config,
    source: "in-cluster service account",
    server: config.getCurrentCluster()!.server,
    namespace: inClusterNamespace(saDir),
    inCluster: true,
  };
}

function fromKubeconfigFiles(files: string[], origin: string): KubeConnection {
  const config = new Http1KubeConfig();
  for (const [i, file] of files.entries()) {
    const one = new Http1KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (error) {
      throw new Error(`cannot read kubeconfig ${file} (from ${origin}): ${(error as Error).message}`);
    }
    // As kubectl: the first file that sets current-context decides it, and the first definition of a name wins.
    if (i === 0) config.loadFromOptions(one);
    else mergeFirstWins(config, one);
  }
  const context = config.getCurrentContext();
  const contextObject = config.getContextObject(context);
  if (!context || !contextObject) {
    throw new Error(
      `kubeconfig ${files.join(":")} (from ${origin}) has no current context${
        context ? ` (${context} is not defined)` : ""
      }; ` +
        "set one with `kubectl config use-context NAME`",
    );
  }
  const cluster = config.getCurrentCluster();
  if (!cluster?.server) {
    throw new Error(`kubeconfig ${files.join(":")}: context ${context} names no cluster with a server`);
  }
  const tokenFile = tokenFileOf(files, contextObject.user);
  if (tokenFile) useTokenFile(config, tokenFile);
  return {
    config,
    source: `kubeconfig ${files.join(":")} (context ${context})`,
    server: cluster.server,
    namespace: contextObject.namespace || undefined,
    inCluster: false,
  };
}

/**
 * kubectl's `tokenFile` (or the older `token-file`) of `userName`, resolved
 * against the directory of the kubeconfig that defines it, as kubectl does.
 */
function tokenFileOf(files: string[], userName: string): string | undefined {
  for (const file of files) {
    const document = parseYaml(fs.readFileSync(file, "utf8")) as {
      users?: { name?: string; user?: Record<string, unknown> }[];
    } | null;
    const user = document?.users?.find((u) => u?.name === userName)?.user;
    if (!user) continue;
    const path = user.tokenFile ?? user["token-file"];
    if (typeof path !== "string" || !path) return undefined;
    return isAbsolute(path) ? path : join(dirname(file), path);
  }
  return undefined;
}

/** Makes the current user's token come from `path`, read for each request. */
function useTokenFile(config: k8s.KubeConfig, path: string): void {
  const current = config.getCurrentUser();
  if (!current) return;
  const user: k8s.User = {
    ...current,
    token: undefined,
    authProvider: { name: TOKEN_FILE_PROVIDER, config: { path } },
  };
  config.loadFromOptions({
    clusters: config.clusters,
    contexts: config.contexts,
    currentContext: config.currentContext,
    users: config.users.map((u) => u.name === current.name ? user : u),
  });
  config.addAuthenticator(new TokenFileAuthenticator());
}

function mergeFirstWins(config: k8s.KubeConfig, later: k8s.KubeConfig): void {
  const add = <T extends { name: string }>(
    have: T[],
    more: T[],
  ) => [...have, ...more.filter((item) => !have.some((h) => h.name === item.name))];
  config.loadFromOptions({
    clusters: add(config.clusters, later.clusters),
    users: add(config.users, later.users),
    contexts: add(config.contexts, later.contexts),
    currentContext: config.currentContext || later.currentContext,
  });
}

function replaceCluster(config: k8s.KubeConfig, cluster: k8s.Cluster): void {
  config.loadFromOptions({
    clusters: config.clusters.map((c) => c.name === cluster.name ? cluster : c),
    contexts: config.contexts,
    currentContext: config.currentContext,
    users: config.users,
  });
}
