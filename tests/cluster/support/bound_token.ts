/**
 * A ServiceAccount identity whose tokens can be revoked one at a time:
 * each token from the TokenRequest API is bound to a Secret of its own
 * (`kubectl create token --bound-object-kind Secret`), so deleting that
 * Secret makes the API server refuse that token and no other. The token is
 * kept in a file that a kubeconfig's user reads (`tokenFile`), as the
 * kubelet keeps a projected token.
 *
 * @module
 */

import { join } from "node:path";
import { kubectl } from "./kube.ts";
import { loadTier } from "./tier_env.ts";

/** A revocable ServiceAccount identity for a host process. */
export interface BoundTokenIdentity {
  tokenFile: string;
  kubeconfig: string;
  /** The token in the file now. */
  token(): string;
  /** Writes a new token bound to a new Secret into the token file (renamed into place); returns the old token. */
  rotate(): Promise<string>;
  /** Deletes the Secret `token` is bound to: from then on the API server refuses it. */
  revoke(token: string): Promise<void>;
}

/** Creates the first token of ServiceAccount `namespace/name` and a kubeconfig reading it, under `dir`. */
export async function boundTokenIdentity(dir: string, namespace: string, name: string): Promise<BoundTokenIdentity> {
  const tier = loadTier();
  await Deno.mkdir(dir, { recursive: true });
  const tokenFile = join(dir, `${name}.token`);
  const kubeconfig = join(dir, `${name}.kubeconfig`);
  const boundTo = new Map<string, string>();
  let current = "";
  let serial = 0;
  const issue = async (): Promise<string> => {
    const secret = `${name}-token-binding-${++serial}-${Date.now()}`;
    await kubectl(["create", "secret", "generic", secret, "-n", namespace]);
    const token = (await kubectl([
      "create",
      "token",
      name,
      "-n",
      namespace,
      "--duration",
      "1h",
      "--bound-object-kind",
      "Secret",
      "--bound-object-name",
      secret,
    ])).trim();
    boundTo.set(token, secret);
    await Deno.writeTextFile(`${tokenFile}.new`, token);
    await Deno.rename(`${tokenFile}.new`, tokenFile);
    return token;
  };
  current = await issue();
  await Deno.writeTextFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "tier", cluster: { server: tier.server, "certificate-authority": tier.caCert } }],
      users: [{ name: name, user: { tokenFile } }],
      contexts: [{ name: "tier", context: { cluster: "tier", user: name } }],
      "current-context": "tier",
    }),
  );
  return {
    tokenFile,
    kubeconfig,
    token: () => current,
    async rotate() {
      const old = current;
      current = await issue();
      return old;
    },
    async revoke(token) {
      const secret = boundTo.get(token);
      if (!secret) throw new Error("not a token of this identity");
      await kubectl(["delete", "secret", secret, "-n", namespace, "--wait=true"]);
    },
  };
}

/** The HTTP status the API server answers to a GET of `path` with `token`. */
export async function statusWithToken(path: string, token: string): Promise<number> {
  const tier = loadTier();
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(tier.caCert)] });
  try {
    const response = await fetch(`${tier.server}${path}`, { headers: { Authorization: `Bearer ${token}` }, client });
    await response.body?.cancel();
    return response.status;
  } finally {
    client.close();
  }
}
