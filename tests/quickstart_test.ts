/**
 * The README's first command, `deno task dev`, and its `deno task crash`:
 * a really crashed process's core is captured, stored in the local bucket
 * and reported on the console.
 */

import assert from "node:assert/strict";
import { freePort } from "./support/s3_server.ts";
import { exists, listTree } from "./support/harness.ts";
import { runDeno } from "./support/process.ts";
import { realCoreSkipReason } from "./support/real_core.ts";

Deno.test("deno task dev captures the core that deno task crash makes, stores it locally and prints the message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-quickstart-" });
  const env = { COREDOG_DEV_DIR: dir, COREDOG_WEBHOOK_PORT: String(freePort()) };
  const dev = runDeno(["task", "dev"], { env });
  try {
    await dev.waitForLine(/^CoreDog local mode$/);
    await dev.waitForLine(/msg="initial scan complete; watching"/);
    assert.ok(dev.lines.some((l) => l.includes(`dumps:   ${dir}/dumps`)));
    const demo = `${dir}/dumps/default/demo/app`;
    if (realCoreSkipReason) {
      console.warn(`using a copied file instead of a real crash: ${realCoreSkipReason}`);
      await Deno.copyFile("/bin/ls", `${demo}/core.demo`);
    } else {
      const crash = runDeno(["task", "crash"], { env });
      assert.equal((await crash.status).code, 0, crash.stderr.join("\n"));
      assert.ok(
        crash.lines.some((l) => /bash crashed with SIGSEGV and the kernel wrote/.test(l)),
        crash.lines.join("\n"),
      );
    }
    await dev.waitForLine(/msg="capture a file:.*\/dumps\/default\/demo\/app\/core/);
    await dev.waitForLine(/msg="resolved pod from webhook path: default\/demo" .*container=app/);
    await dev.waitForLine(/msg="deleted local corefile: /);
    await dev.waitForLine(/^\[default\/demo\] core: /);
    const link = await dev.waitForLine(/^download: /);
    const stored = link.slice("download: ".length);
    assert.ok(stored.startsWith(`${dir}/bucket/corefiles/default/demo/app/`), stored);
    assert.ok(await exists(stored), "the download path is the stored core");
    // What the quickstart promises is the core and its metadata object beside it; the crash-signature
    // registry's own objects (corefiles/_signatures/..., windows/...) live elsewhere in the bucket.
    const coreDir = stored.slice(0, stored.lastIndexOf("/"));
    const coreName = stored.slice(coreDir.length + 1);
    const metadataName = coreName.replace(/\.core(\.zst|\.gz)?$/, ".json");
    assert.notEqual(metadataName, coreName, `the stored core ${coreName} ends in .core, .core.zst or .core.gz`);
    assert.deepEqual((await listTree(coreDir)).sort(), [coreName, metadataName].sort());
    const metadata = JSON.parse(await Deno.readTextFile(`${coreDir}/${metadataName}`));
    assert.equal(metadata.pod?.namespace, "default", JSON.stringify(metadata));
    assert.equal(metadata.pod?.name, "demo", JSON.stringify(metadata));
    assert.equal(`${dir}/bucket/${metadata.storage?.key}`, stored, JSON.stringify(metadata.storage));
    assert.deepEqual(await listTree(demo), []);

    dev.kill("SIGINT");
    assert.equal((await dev.status).code, 0);
  } finally {
    // deno task forwards SIGTERM to the watcher it started; SIGKILL would orphan it.
    dev.kill("SIGTERM");
    await dev.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("judgeCorePattern: pipes and absolute paths are refused with the reason, relative patterns accepted", async () => {
  // judgeCorePattern is what crash.ts relies on; a pipe pattern is the common case on desktops.
  const { judgeCorePattern } = await import("../src/dev/core_pattern.ts");
  const verdict = judgeCorePattern("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h");
  assert.equal(verdict.ok, false);
  assert.match(verdict.ok ? "" : verdict.why, /^cores are piped to \/usr\/lib\/systemd\/systemd-coredump/);
  assert.equal(judgeCorePattern("core.%e.%p").ok, true);
  assert.equal(judgeCorePattern("/var/crash/core.%e").ok, false);
});
