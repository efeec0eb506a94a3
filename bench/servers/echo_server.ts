/**
 * The bare reference server of the webhook benchmark: Deno.serve with TLS
 * and nothing else. It reads the request body and sends it back as JSON,
 * the least any admission endpoint must do (read the review, write an
 * answer of about the same size).
 *
 * Usage: deno run --allow-net --allow-read bench/servers/echo_server.ts <port> <cert> <key>
 * Prints `listening <port>` when ready.
 *
 * @module
 */

const [port, certFile, keyFile] = Deno.args;
Deno.serve({
  hostname: "127.0.0.1",
  port: Number(port),
  cert: await Deno.readTextFile(certFile),
  key: await Deno.readTextFile(keyFile),
  onListen: ({ port }) => console.log(`listening ${port}`),
}, async (request) => new Response(await request.arrayBuffer(), { headers: { "content-type": "application/json" } }));
