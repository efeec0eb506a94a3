/**
 * A stand-in for kube-apiserver over real HTTPS: answers pod GETs from
 * recorded Pod objects and event POSTs as the API does (201 with the
 * object; 404 with a Status for a missing pod; 401 without a token).
 * No kube-apiserver can run here, so the shapes are recorded ones.
 */

import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/certificates.ts";

/** A running fake API server. */
export interface FakeKubeApi {
  url: string;
  caPem: string;
  /** Authorization headers received, in order. */
  authorizations: string[];
  /** Event bodies received. */
  events: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Serves `pods` (keyed `namespace/name`). */
export async function startFakeKubeApi(pods: Record<string, unknown>): Promise<FakeKubeApi> {
  const ca = await createCertificateAuthority({ commonName: "fake kube CA" });
  const leaf = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"], dnsNames: ["localhost"] });
  const authorizations: string[] = [];
  const events: Record<string, unknown>[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: leaf.certPem, key: leaf.keyPem, onListen() {} },
    async (request) => {
      const auth = request.headers.get("authorization") ?? "";
      authorizations.push(auth);
      if (!auth.startsWith("Bearer ")) return status(401, "Unauthorized", "Unauthorized");
      const path = new URL(request.url).pathname;
      const pod = path.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/);
      if (pod && request.method === "GET") {
        const object = pods[`${pod[1]}/${pod[2]}`];
        if (!object) return status(404, "NotFound", `pods "${pod[2]}" not found`);
        return Response.json(object);
      }
      const event = path.match(/^\/api\/v1\/namespaces\/([^/]+)\/events$/);
      if (event && request.method === "POST") {
        const body = await request.json();
        events.push(body);
        return Response.json(
          {
            ...body,
            metadata: { ...body.metadata, name: `${body.metadata.generateName}abcde`, uid: crypto.randomUUID() },
          },
          { status: 201 },
        );
      }
      return status(404, "NotFound", "the server could not find the requested resource");
    },
  );
  return {
    url: `https://127.0.0.1:${server.addr.port}`,
    caPem: ca.certPem,
    authorizations,
    events,
    close: () => server.shutdown(),
  };
}

function status(code: number, reason: string, message: string): Response {
  return Response.json(
    { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code },
    { status: code },
  );
}
