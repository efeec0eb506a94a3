/**
 * The webhook's `/mutate` handler alone, in process, without TLS or
 * sockets: microseconds per request for the realistic AdmissionReview,
 * with info logging (to a file, as a container runtime collects stdout)
 * and without. Add `--cpu-prof` to `deno run` to see where the time goes.
 *
 * Usage: deno run -A bench/probes/webhook_handler_probe.ts [requests, default 20000]
 *
 * @module
 */

import { createLogger } from "../../src/log.ts";
import { createWebhookHandler } from "../../src/webhook/handler.ts";
import { createWebhookMetrics } from "../../src/webhook/webhook_metrics.ts";

const FIXTURE = new URL("../../tests/fixtures/admission/deployment_pod.json", import.meta.url).pathname;

if (import.meta.main) {
  const requests = Number(Deno.args[0] ?? 20_000);
  const body = await Deno.readTextFile(FIXTURE);
  const logFile = await Deno.makeTempFile({ prefix: "coredog-handler-log-" });
  const file = await Deno.open(logFile, { write: true });
  const encoder = new TextEncoder();
  try {
    for (const level of ["info", "warn"] as const) {
      const logger = createLogger({
        level,
        fields: { component: "webhook" },
        write: (line) => file.writeSync(encoder.encode(line + "\n")),
      });
      const handler = createWebhookHandler({
        corefileDir: "/data/coredog-system/dumps",
        logger,
        metrics: createWebhookMetrics(),
        ready: () => true,
      });
      const request = () =>
        new Request("https://127.0.0.1/mutate", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
      for (let i = 0; i < 2000; i++) await (await handler(request())).text();
      const started = performance.now();
      for (let i = 0; i < requests; i++) await (await handler(request())).text();
      const us = ((performance.now() - started) * 1000) / requests;
      console.log(`log level ${level}: ${us.toFixed(1)} µs per request`);
    }
  } finally {
    file.close();
    await Deno.remove(logFile);
  }
}
