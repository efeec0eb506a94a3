/**
 * The webhook never blocks a pod: when deciding on a pod fails inside
 * CoreDog, the pod is still created (allowed, unchanged), and the fault is
 * logged and counted so that an operator can see it. Served over real
 * HTTP on loopback by the real handler.
 */

import assert from "node:assert/strict";
import { mutateAdmission } from "../src/core/pod_mutation.ts";
import { createLogger } from "../src/log.ts";
import { createWebhookHandler } from "../src/webhook/handler.ts";
import { createWebhookMetrics } from "../src/webhook/webhook_metrics.ts";
import { COREFILE_DIR, fixtureText } from "./support/admission.ts";

/** Serves the real handler with `mutate` in place of the pod decision. */
function serve(mutate: typeof mutateAdmission) {
  const logs: string[] = [];
  const metrics = createWebhookMetrics();
  const handler = createWebhookHandler({
    corefileDir: COREFILE_DIR,
    logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    metrics,
    ready: () => true,
    mutate,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return { logs, metrics, base: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

Deno.test("a fault while deciding on a pod allows the pod unchanged, logs the error and counts it", async () => {
  const running = serve(() => {
    throw new Error("boom in the mutation");
  });
  try {
    const body = await fixtureText("deployment_pod.json");
    const uid = JSON.parse(body).request.uid;
    const response = await fetch(`${running.base}/mutate`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    assert.equal(response.status, 200, "an internal fault is never an HTTP error: the API server would deny the pod");
    const answer = await response.json();
    assert.equal(answer.kind, "AdmissionReview");
    assert.equal(answer.response.uid, uid);
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patch, undefined, "no patch");
    assert.equal(answer.response.patchType, undefined);
    assert.deepEqual(answer.response.warnings, ["coredog: not injected: internal error"]);

    const errorLines = running.logs.filter((l) => l.includes("level=error"));
    assert.equal(errorLines.length, 1, running.logs.join("\n"));
    assert.match(errorLines[0], /cannot decide on the pod; allowing it unchanged/);
    assert.match(errorLines[0], /boom in the mutation/);
    assert.ok(errorLines[0].includes(uid), errorLines[0]);

    const metrics = await (await fetch(`${running.base}/metrics`)).text();
    assert.match(metrics, /^coredog_webhook_errors_total\{kind="internal"\} 1$/m);
    assert.match(metrics, /^coredog_webhook_requests_total\{code="200"\} 1$/m);
    assert.doesNotMatch(metrics, /^coredog_webhook_injected_total\S* [1-9]/m);
  } finally {
    await running.stop();
  }
});

Deno.test("the same pod is injected when the decision does not fail (the fault above is what made the difference)", async () => {
  const running = serve(mutateAdmission);
  try {
    const response = await fetch(`${running.base}/mutate`, {
      method: "POST",
      body: await fixtureText("deployment_pod.json"),
      headers: { "content-type": "application/json" },
    });
    const answer = await response.json();
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, "JSONPatch");
    const metrics = await (await fetch(`${running.base}/metrics`)).text();
    assert.doesNotMatch(metrics, /coredog_webhook_errors_total\{kind="internal"\}/);
  } finally {
    await running.stop();
  }
});
