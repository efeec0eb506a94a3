/**
 * Crash sites and signatures of real crashes: small gcc-built programs
 * crash for real, and what CoreDog reads from their cores is compared with
 * what gdb, addr2line and readelf say about the same core and binary.
 */

import assert from "node:assert/strict";
import fs from "node:fs";
import { readCoreFacts } from "../src/watcher/core_facts_reader.ts";
import { addr2line, buildCrasher, crasherSkipReason, crashIn, gdbView, readelfBuildId } from "./support/crashers.ts";

const ignore = crasherSkipReason !== undefined;

async function siteOf(core: string) {
  const handle = await fs.promises.open(core, "r");
  try {
    const size = (await handle.stat()).size;
    return await readCoreFacts(handle, size);
  } finally {
    await handle.close();
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "coredog-sig-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const framePointers of [true, false]) {
  Deno.test({
    name: `NULL dereference in the executable (${framePointers ? "with" : "without"} frame pointers): ` +
      "site, frames and build-id agree with gdb, addr2line and readelf",
    ignore,
    fn: () =>
      withDir(async (dir) => {
        const crasher = await buildCrasher("null_deref.c", { dir, name: "server", framePointers });
        const core = await crashIn(crasher, `${dir}/run`);
        const { crash, facts } = await siteOf(core);
        assert.equal(facts.signalName, "SIGSEGV");
        assert.equal(crash.noSignature, undefined);
        assert.match(crash.signature ?? "", /^[0-9a-f]{16}$/);
        assert.equal(crash.buildId, await readelfBuildId(crasher.path), "the build-id is the one readelf -n shows");

        const gdb = await gdbView(crasher.path, core);
        assert.equal(gdb.module, crasher.path);
        assert.equal(crash.site, `server+0x${gdb.offset.toString(16)}`, "the site is gdb's pc, relative to the module");
        const where = await addr2line(crasher.path, crash.frames[0].offset);
        assert.equal(where.function, "crash_here");
        assert.equal(where.function, gdb.function);
        assert.equal(where.line, gdb.line, "addr2line at the site's offset names gdb's source line");

        // The callers, by the return addresses' call sites (address - 1).
        const callers = [];
        for (const frame of crash.frames.slice(1, 3)) {
          assert.equal(frame.module, "server");
          callers.push((await addr2line(crasher.path, frame.offset - 1)).function);
        }
        assert.deepEqual(callers, ["middle", "main"]);
        assert.equal(crash.unwind, framePointers ? "frame-pointer" : "scanned");
        assert.ok(crash.frames.some((f) => f.module === "libc.so.6"), "the stack reaches libc's start code");
        const libc = crash.modules.find((m) => m.name === "libc.so.6")!;
        assert.equal(libc.buildId, await readelfBuildId(libc.path));
      }),
  });
}

Deno.test({
  name: "abort() inside libc: the site is in libc at gdb's offset, the caller frames are the program's",
  ignore,
  fn: () =>
    withDir(async (dir) => {
      const crasher = await buildCrasher("abort_in_libc.c", { dir, name: "worker", framePointers: false });
      const core = await crashIn(crasher, `${dir}/run`);
      const { crash, facts } = await siteOf(core);
      assert.equal(facts.signalName, "SIGABRT");
      const gdb = await gdbView(crasher.path, core);
      assert.match(gdb.module, /\/libc\.so\.6$/);
      assert.equal(crash.site, `libc.so.6+0x${gdb.offset.toString(16)}`);
      const own = crash.frames.filter((f) => f.module === "worker").slice(0, 3);
      const names = [];
      for (const frame of own) names.push((await addr2line(crasher.path, frame.offset - 1)).function);
      assert.deepEqual(names, ["give_up", "check", "main"]);
      assert.equal(crash.buildId, await readelfBuildId(crasher.path));
    }),
});

Deno.test({
  name: "the same program crashing in two pod directories gives one signature; two crash sites give two",
  ignore,
  fn: () =>
    withDir(async (dir) => {
      const deref = await buildCrasher("null_deref.c", { dir, name: "server", framePointers: false });
      const other = await buildCrasher("other_site.c", { dir, name: "server2", framePointers: false });
      const abort = await buildCrasher("abort_in_libc.c", { dir, name: "server3", framePointers: false });
      const a = await siteOf(await crashIn(deref, `${dir}/dumps/team-a/web-1/app`));
      const b = await siteOf(await crashIn(deref, `${dir}/dumps/team-b/web-2-with-a-longer-name/app`));
      assert.notEqual(a.facts.pid, b.facts.pid);
      assert.ok(a.crash.signature);
      assert.equal(a.crash.signature, b.crash.signature, "one bug, one signature, wherever it runs");
      assert.equal(a.crash.site, b.crash.site);

      const c = await siteOf(await crashIn(other, `${dir}/dumps/team-a/web-3/app`));
      const d = await siteOf(await crashIn(abort, `${dir}/dumps/team-a/web-4/app`));
      const signatures = new Set([a.crash.signature, c.crash.signature, d.crash.signature]);
      assert.equal(signatures.size, 3, "each crash site has its own signature");
      assert.notEqual(a.crash.site, c.crash.site);
    }),
});

Deno.test({
  name: "a core without what a signature needs goes on with a clear reason",
  ignore,
  fn: () =>
    withDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/core.txt`, "not a core\n".repeat(100));
      const text = await siteOf(`${dir}/core.txt`);
      assert.equal(text.crash.noSignature, "not an ELF core");
      const crasher = await buildCrasher("null_deref.c", { dir, name: "server", framePointers: true });
      const core = await crashIn(crasher, `${dir}/run`);
      // Only the headers and notes survive: the stack and the modules' pages are cut off.
      const bytes = await Deno.readFile(core);
      const { headersEnd } = await noteEnd(core);
      await Deno.writeFile(`${dir}/cut.core`, bytes.subarray(0, headersEnd));
      const cut = await siteOf(`${dir}/cut.core`);
      assert.equal(cut.facts.signalName, "SIGSEGV", "the facts the notes give are still there");
      assert.equal(cut.crash.signature, undefined);
      assert.equal(cut.crash.site, (await siteOf(core)).crash.site, "the site is known from the registers alone");
      assert.match(cut.crash.noSignature ?? "", /the stack is not in the core/);
    }),
});

/** Where the notes of `core` end (everything after is memory). */
async function noteEnd(core: string): Promise<{ headersEnd: number }> {
  const out = new TextDecoder().decode(
    (await new Deno.Command("readelf", { args: ["-lW", core], stdout: "piped" }).output()).stdout,
  );
  const note = out.match(/^\s+NOTE\s+(0x[0-9a-f]+)\s+\S+\s+\S+\s+(0x[0-9a-f]+)/m)!;
  return { headersEnd: Number(note[1]) + Number(note[2]) };
}
