/**
 * Variants of the webhook that take it apart, to find where its time goes
 * when it is slower than the bare server:
 *
 * - `direct`: CoreDog's `/mutate` handler served by Deno.serve with TLS
 *   directly, without the reloadable TLS front (the TCP relay).
 * - `relay-echo`: CoreDog's TLS front (`serveTls`, the relay) in front of
 *   the bare echo handler.
 * - `node-https`: CoreDog's `/mutate` handler behind `node:https` (which
 *   sets TCP_NODELAY on accepted sockets and can swap certificates with
 *   `setSecureContext`), the alternative measured against the relay
 *   CoreDog ships (`node:tls` with TCP_NODELAY, `src/webhook/tls_server.ts`).
 *
 * Usage: deno run --allow-net --allow-read --allow-env bench/servers/webhook_variant.ts <mode> <port> <cert> <key>
 * Prints `listening <port>` when ready; the handler logs as the webhook does.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import https from "node:https";
import { createLogger } from "../../src/log.ts";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { serveTls } from "../../src/webhook/tls_server.ts";
import { createWebhookMetrics } from "../../src/webhook/webhook_metrics.ts";

const DUMP_ROOT = "/data/coredog-system/dumps";

const [mode, port, certFile, keyFile] = Deno.args;
const pair = { certPem: await Deno.readTextFile(certFile), keyPem: await Deno.readTextFile(keyFile) };
const echo = async (request: Request) =>
  new Response(await request.arrayBuffer(), { headers: { "content-type": "application/json" } });

/** CoreDog's `/mutate` handler, logging as the webhook does, so that variants differ only in how they serve it. */
function coredogHandler(): (request: Request) => Promise<Response> {
  return createWebhookHandler({
    dumpRoot: DUMP_ROOT,
    logger: createLogger({ fields: { component: "webhook" } }),
    metrics: createWebhookMetrics(),
    ready: () => true,
  });
}

if (mode === "direct") {
  const handler = coredogHandler();
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(port),
    cert: pair.certPem,
    key: pair.keyPem,
    onListen: ({ port }) => console.log(`listening ${port}`),
  }, handler);
} else if (mode === "node-https") {
  const handler = coredogHandler();
  const server = https.createServer({ cert: pair.certPem, key: pair.keyPem, noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string") headers.set(name, value);
      }
      const request = new Request(`https://127.0.0.1${req.url}`, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks),
      });
      const response = await handler(request);
      const body = Buffer.from(await response.arrayBuffer());
      res.writeHead(response.status, { ...Object.fromEntries(response.headers), "content-length": body.length });
      res.end(body);
    });
  });
  server.listen(Number(port), "127.0.0.1", () => console.log(`listening ${port}`));
} else if (mode === "relay-echo") {
  const server = serveTls(pair, { port: Number(port), hostname: "127.0.0.1", handler: echo });
  console.log(`listening ${(await server.listening).port}`);
} else {
  console.error(`unknown mode ${mode}`);
  Deno.exit(2);
}
