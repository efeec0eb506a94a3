/**
 * Certificate swaps under load: the webhook's HTTPS server swaps between
 * two certificates while 8 clients post, half of them on a keep-alive
 * connection each, half on a new connection per request (connection
 * churn, where a reset connection shows). Prints how many requests failed.
 *
 * Usage: deno run --allow-all --unstable-net bench/swap_bench.ts [swaps=50] [ms between swaps=1100]
 *
 * @module
 */

import { createCertificateAuthority, issueServingCertificate } from "../src/tls/certificates.ts";
import { serveTls } from "../src/webhook/tls_server.ts";

const ca = await createCertificateAuthority();
const pairs = [
  await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] }),
  await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] }),
];
const server = serveTls(pairs[0], { hostname: "127.0.0.1", port: 0, handler: () => new Response("x".repeat(900)) });
const { port } = await server.listening;
let stop = false;
let ok = 0;
const failures: string[] = [];
const workers = [0, 1, 2, 3, 4, 5, 6, 7].map(async (worker) => {
  const keep = Deno.createHttpClient({ caCerts: [ca.certPem] });
  while (!stop) {
    const client = worker % 2 === 0 ? Deno.createHttpClient({ caCerts: [ca.certPem] }) : keep;
    try {
      const response = await fetch(`https://127.0.0.1:${port}/`, { method: "POST", body: "{}", client });
      await response.text();
      ok++;
    } catch (error) {
      failures.push(`${worker % 2 === 0 ? "new" : "keep"}: ${(error as Error).message}`);
    } finally {
      if (client !== keep) client.close();
    }
  }
  keep.close();
});
const swaps = Number(Deno.args[0] ?? 50);
for (let i = 0; i < swaps; i++) {
  await new Promise((resolve) => setTimeout(resolve, Number(Deno.args[1] ?? 1100)));
  server.reload(pairs[i % 2]);
}
stop = true;
await Promise.all(workers);
await server.shutdown();
console.log(`swaps ${swaps}, requests ok ${ok}, failed ${failures.length}`);
const kinds = new Map<string, number>();
for (const failure of failures) kinds.set(failure, (kinds.get(failure) ?? 0) + 1);
console.log(kinds);
