import assert from "node:assert/strict";
import { serveHealth } from "../src/health_server.ts";
import { Registry } from "../src/metrics.ts";

Deno.test("the health port answers probes from what the role says, scrapes its registry, and refuses the rest", async () => {
  const registry = new Registry();
  registry.counter("coredog_example_total", "An example").inc();
  let ready = false;
  let healthy = true;
  const server = serveHealth({
    port: 0,
    hostname: "127.0.0.1",
    registry,
    healthy: () => healthy,
    ready: () => ready,
    notReadyReason: "the first scan has not finished",
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const get = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${base}${path}`, init);
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
  try {
    assert.deepEqual(
      { ...(await get("/readyz")), headers: undefined },
      { status: 503, headers: undefined, body: "not ready: the first scan has not finished\n" },
    );
    ready = true;
    assert.equal((await get("/readyz")).body, "ready\n");
    assert.equal((await get("/healthz")).body, "ok\n");
    healthy = false;
    assert.deepEqual([(await get("/healthz")).status, (await get("/healthz")).body], [503, "unhealthy\n"]);
    const metrics = await get("/metrics");
    assert.match(metrics.body, /^coredog_example_total 1$/m);
    assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const posted = await get("/metrics", { method: "POST", body: "x" });
    assert.deepEqual([posted.status, posted.headers.get("allow")], [405, "GET, HEAD"]);
    const other = await get("/mutate", { method: "POST", body: "{}" });
    assert.equal(other.status, 404);
    assert.match(other.body, /serves \/healthz, \/readyz and \/metrics/);
  } finally {
    await server.shutdown();
  }
});
