/**
 * A variant of the webhook that takes it apart, to show where its time
 * goes:
 *
 * - `direct`: CoreDog's `/mutate` handler served by a plain Deno.serve
 *   with TLS. Deno.serve leaves Nagle's algorithm on and sends a response
 *   over about 400 bytes as two TLS records, so on a machine's loopback
 *   each answer waits for the client's delayed ACK; CoreDog's own server
 *   (`src/webhook/tls_server.ts`) sets TCP_NODELAY on its listening socket
 *   and does not.
 *
 * Usage: deno run --allow-net --allow-read --allow-env bench/servers/webhook_variant.ts <mode> <port> <cert> <key>
 * Prints `listening <port>` when ready; the handler logs as the webhook does.
 *
 * @module
 */

import { createLogger } from "../../src/log.ts";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { createWebhookMetrics } from "../../src/webhook/webhook_metrics.ts";

const COREFILE_DIR = "/data/coredog-system/dumps";

const [mode, port, certFile, keyFile] = Deno.args;

if (mode === "direct") {
  const handler = createWebhookHandler({
    corefileDir: COREFILE_DIR,
    logger: createLogger({ fields: { component: "webhook" } }),
    metrics: createWebhookMetrics(),
    ready: () => true,
  });
  Deno.serve({
    hostname: "127.0.0.1",
    port: Number(port),
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    onListen: ({ port }) => console.log(`listening ${port}`),
  }, handler);
} else {
  console.error(`unknown mode ${mode}; the one mode is direct`);
  Deno.exit(2);
}
