/**
 * The watcher as the DaemonSet runs it: its own process, a config file,
 * credentials from the environment, probes, SIGTERM.
 */

import assert from "node:assert/strict";
import { exists, waitFor } from "./support/harness.ts";
import { runDeno } from "./support/process.ts";
import { taskRunArgs } from "./support/tasks.ts";
import { listKeys, testS3Client } from "./support/s3_client.ts";
import { freePort, S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server } from "./support/s3_server.ts";

const WATCHER = taskRunArgs("watcher");

Deno.test("the watcher process logs the seed's lines, serves its probes and metrics, and stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-proc-" });
  const s3 = await startS3Server(dir);
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/coredog.yaml`,
    [
      `CorefileDir: ${dir}/dumps`,
      "StorageConfig:",
      "  S3Bucket: cores",
      `  S3Endpoint: ${s3.endpoint}`,
      "NoticeChannel:",
      "  - chan: console",
      "Watcher:",
      `  HealthPort: ${port}`,
      "  SettleMilliseconds: 200",
      "",
    ].join("\n"),
  );
  const watcher = runDeno([...WATCHER, "--config", `${dir}/coredog.yaml`], {
    env: { COREDOG_S3_ACCESS_KEY_ID: S3_ACCESS_KEY, COREDOG_S3_SECRET_ACCESS_KEY: S3_SECRET_KEY, NODE_NAME: "node-9" },
  });
  try {
    const start = await watcher.waitForLine(/msg="coredog watcher starting"/);
    assert.match(start, /credentials: env/);
    assert.match(start, /path style/);
    await watcher.waitForLine(/msg="initial scan complete; watching"/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), "ready\n");

    const podDir = `${dir}/dumps/default/crash-test`;
    await Deno.mkdir(podDir, { recursive: true });
    await Deno.writeTextFile(`${podDir}/core.bash.7`, "core of the seed's crash-test pod");
    await watcher.waitForLine(new RegExp(`level=info msg="capture a file:${podDir}/core.bash.7"`));
    await watcher.waitForLine(/level=info msg="resolved pod from webhook path: default\/crash-test"/);
    await watcher.waitForLine(new RegExp(`level=info msg="deleted local corefile: ${podDir}/core.bash.7"`));
    await watcher.waitForLine(/^\[default\/crash-test\] core: core\.bash\.7$/);
    assert.ok(!(await exists(`${podDir}/core.bash.7`)));
    const keys = await listKeys(testS3Client(s3.endpoint));
    assert.equal(keys.length, 2);
    assert.match(keys[0], /^corefiles\/default\/crash-test\/_pod\//);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /^coredog_cores_uploaded_total 1$/m);
    assert.match(metrics, /^coredog_bytes_read_total 33$/m);
    assert.match(metrics, /^coredog_notifications_sent_total\{channel="console#0"\} 1$/m);

    watcher.kill("SIGTERM");
    const status = await watcher.status;
    assert.equal(status.code, 0);
    await waitFor("the stop line", () => watcher.lines.some((l) => l.includes('msg="coredog watcher stopped"')));
  } finally {
    watcher.kill("SIGKILL");
    await watcher.status;
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an invalid config file stops the watcher at start with every problem listed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-proc-" });
  try {
    await Deno.writeTextFile(
      `${dir}/coredog.yaml`,
      "StorageConfig:\n  S3Bucket: b\n  deleteLocalCorefile: true\ngc: true\n",
    );
    const watcher = runDeno([...WATCHER, "--config", `${dir}/coredog.yaml`]);
    const status = await watcher.status;
    assert.equal(status.code, 1);
    await waitFor("stderr", () => watcher.stderr.length >= 3);
    assert.deepEqual(watcher.stderr.slice(0, 3), [
      `invalid CoreDog configuration in ${dir}/coredog.yaml:`,
      "  - gc is not a CoreDog key: local cleanup is StorageConfig.DeleteLocalCorefile; remove it",
      "  - unknown key StorageConfig.deleteLocalCorefile: keys are case-sensitive, write StorageConfig.DeleteLocalCorefile",
    ]);
    assert.ok(watcher.lines.some((l) => l.includes("level=error") && l.includes('msg="invalid configuration"')));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
