/**
 * `coredog list` and `get` on the directory store (StorageConfig.protocol
 * local: the quickstart, or an NFS/CFS share), filled by the real watcher.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { buildCore } from "./support/elf_builder.ts";
import { startTestWatcher, testConfigYaml, waitFor } from "./support/harness.ts";
import { cliInProcess } from "./support/cli_run.ts";

Deno.test({
  name: "list and get on a directory store, and debug refuses it with the reason",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-cli-local-" });
    const corefileDir = join(dir, "dumps");
    const options = { corefileDir, localDir: join(dir, "bucket"), storageYaml: ["Compression: gzip"] };
    await Deno.mkdir(join(corefileDir, "default", "demo", "app"), { recursive: true });
    const watcher = await startTestWatcher(options);
    try {
      const configPath = join(dir, "coredog.yaml");
      await Deno.writeTextFile(configPath, testConfigYaml(options));
      const cores = [0, 1].map((i) =>
        buildCore({
          signal: 11,
          pid: 40 + i,
          comm: `demo${i}`,
          args: "demo",
          exe: "/app/demo",
          loadBytes: 8192 * (i + 1),
        })
      );
      for (const [i, bytes] of cores.entries()) {
        const staged = join(dir, `core.demo${i}`);
        await Deno.writeFile(staged, bytes);
        const t = (Date.now() - (2 - i) * 60_000) / 1000;
        await Deno.utime(staged, t, t);
        await Deno.rename(staged, join(corefileDir, "default", "demo", "app", `core.demo${i}.${40 + i}`));
      }
      await waitFor("both cores stored", () => watcher.watcher.metrics.coresUploaded.get() === 2);
      const listed = await cliInProcess(["list", "--config", configPath, "-o", "json"]);
      assert.equal(listed.code, 0, listed.stderr);
      const records = JSON.parse(listed.stdout);
      assert.deepEqual(records.map((r: { process: { executable: string } }) => r.process.executable), [
        "demo1",
        "demo0",
      ]);
      const out = join(dir, "core");
      const got = await cliInProcess(["get", records[1].id, "--config", configPath, "-o", out]);
      assert.equal(got.code, 0, got.stderr);
      assert.deepEqual(await Deno.readFile(out), cores[0], "gzip decompressed, byte for byte");
      const debug = await cliInProcess([
        "debug",
        records[1].id,
        "--config",
        configPath,
        "--dry-run",
        "--image",
        `x@sha256:${"0".repeat(64)}`,
      ]);
      assert.equal(debug.code, 1);
      assert.match(debug.stderr, /coredog debug needs S3 storage/);
    } finally {
      await watcher.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
