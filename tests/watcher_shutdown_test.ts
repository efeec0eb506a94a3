/**
 * `runWatcher` after SIGTERM: it returns its exit code instead of exiting
 * the process (only the entrypoint exits), at once when nothing is in
 * flight, and after the shutdown grace when an upload hangs. The chart's
 * terminationGracePeriodSeconds is checked against the same exported
 * constant in tests/chart_templates_test.ts.
 */

import assert from "node:assert/strict";
import { parseConfig } from "../src/core/config.ts";
import { createLogger } from "../src/log.ts";
import { runWatcher, SHUTDOWN_GRACE_MS } from "../src/watcher/main.ts";
import { testConfigYaml, waitFor } from "./support/harness.ts";
import { withDeadline } from "./support/process.ts";

/** A TCP port that accepts connections and never answers: an S3 endpoint whose uploads hang. */
function silentServer(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch {
      // closed
    }
  })();
  return {
    port: listener.addr.port,
    close() {
      listener.close();
      for (const conn of held) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

async function watcherUntilSigterm(
  corefileDir: string,
  endpoint: string,
  options: { graceMs: number; beforeSignal: (logs: string[]) => Promise<void> },
) {
  const config = parseConfig(testConfigYaml({ corefileDir, s3Endpoint: endpoint, watcherYaml: ["Kubernetes: off"] }));
  const logs: string[] = [];
  const running = runWatcher(config, createLogger({ write: (line) => logs.push(line) }), {
    shutdownGraceMs: options.graceMs,
  });
  await waitFor("the first scan", () => logs.some((l) => l.includes("initial scan complete")));
  await options.beforeSignal(logs);
  const start = performance.now();
  Deno.kill(Deno.pid, "SIGTERM");
  const code = await withDeadline(running, "runWatcher after SIGTERM", {
    timeoutMs: options.graceMs + 15_000,
    details: () => logs.slice(-20).join("\n"),
  });
  return { code, ms: performance.now() - start, logs };
}

Deno.test({
  name: "after SIGTERM runWatcher returns 0 at once when idle, and after the grace when an upload hangs",
  // The hung upload's request is still open when runWatcher gives up on it; that is what the grace is for.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    assert.ok(SHUTDOWN_GRACE_MS >= 30_000, "long enough for a large core's last part");
    const s3 = silentServer();
    const corefileDir = await Deno.makeTempDir({ prefix: "coredog-shutdown-" });
    try {
      const idle = await watcherUntilSigterm(corefileDir, `http://127.0.0.1:${s3.port}`, {
        graceMs: 20_000,
        beforeSignal: async () => {},
      });
      assert.equal(idle.code, 0);
      assert.ok(idle.ms < 5_000, `idle stop took ${idle.ms} ms`);
      assert.ok(!idle.logs.some((l) => l.includes("grace period over")), idle.logs.join("\n"));
      assert.ok(idle.logs.some((l) => l.includes('msg="coredog watcher stopped"')));

      const graceMs = 1_500;
      const hung = await watcherUntilSigterm(corefileDir, `http://127.0.0.1:${s3.port}`, {
        graceMs,
        beforeSignal: async (logs) => {
          await Deno.mkdir(`${corefileDir}/default/app/main`, { recursive: true });
          await Deno.writeTextFile(`${corefileDir}/default/app/main/core.1`, "not an ELF core, but a file to upload\n");
          await waitFor("the upload to start", () => logs.some((l) => l.includes("capture a file:")), 20_000);
        },
      });
      assert.equal(hung.code, 0);
      assert.ok(hung.ms >= graceMs, `returned after ${hung.ms} ms, before the ${graceMs} ms grace`);
      assert.ok(hung.ms < graceMs + 5_000, `returned after ${hung.ms} ms`);
      assert.ok(hung.logs.some((l) => l.includes("shutdown grace period over")), hung.logs.join("\n"));
      assert.ok(hung.logs.some((l) => l.includes('msg="coredog watcher stopped"')));
    } finally {
      s3.close();
      await Deno.remove(corefileDir, { recursive: true });
    }
  },
});
