/**
 * Function names from debuginfod: a stripped program crashes for real, a
 * local HTTP server speaking the debuginfod protocol serves its unstripped
 * build by build-id, and the frames carry the names `nm` lists at their
 * offsets. Servers that are down, slow, or send too much cost no more than
 * their limits, and without symbols everything works as before.
 */

import assert from "node:assert/strict";
import fs from "node:fs";
import { parseConfig } from "../src/core/config.ts";
import type { CrashSite } from "../src/core/crash_signature.ts";
import { functionAt, parseSymbols } from "../src/core/elf_symbols.ts";
import { renderTemplate } from "../src/core/template.ts";
import { createLogger } from "../src/log.ts";
import { readCoreFacts } from "../src/watcher/core_facts_reader.ts";
import { DebuginfodClient } from "../src/watcher/debuginfod_client.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { buildCrasher, crasherSkipReason, crashIn, readelfBuildId, run } from "./support/crashers.ts";
import { freePort } from "./support/s3_server.ts";

const ignore = crasherSkipReason !== undefined;

/** A debuginfod server on loopback: `files` by build-id and kind; every request path is kept. */
function debuginfodServer(files: Map<string, Uint8Array<ArrayBuffer>>, options: { hang?: boolean } = {}) {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = new URL(request.url).pathname;
    requests.push(path);
    if (options.hang) await new Promise((r) => setTimeout(r, 3_000));
    const body = files.get(path);
    return body ? new Response(body) : new Response("not found\n", { status: 404 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, requests, stop: () => server.shutdown() };
}

/** `nm`'s function at `offset`: the nearest text symbol at or below it. */
async function nmFunctionAt(binary: string, offset: number): Promise<string | undefined> {
  const symbols = (await run("nm", ["--defined-only", binary])).trim().split("\n")
    .map((line) => line.split(" "))
    .filter((parts) => parts.length === 3 && /^[tTwW]$/.test(parts[1]))
    .map(([address, , name]) => ({ start: parseInt(address, 16), name }))
    .sort((a, b) => a.start - b.start);
  return symbols.filter((s) => s.start <= offset).at(-1)?.name;
}

async function crashSiteOf(core: string): Promise<CrashSite> {
  const handle = await fs.promises.open(core, "r");
  try {
    return (await readCoreFacts(handle, (await handle.stat()).size)).crash;
  } finally {
    await handle.close();
  }
}

function quietLogger(lines: string[]) {
  return createLogger({ level: "debug", write: (line: string) => lines.push(line) });
}

Deno.test({
  name: "debuginfod: a stripped crash's frames carry the names nm lists, from the unstripped build served by build-id",
  ignore,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-debuginfod-" });
    const servers: { stop: () => Promise<void> }[] = [];
    try {
      const unstripped = await buildCrasher("null_deref.c", { dir, name: "server", framePointers: true });
      await Deno.mkdir(`${dir}/image`);
      const stripped = `${dir}/image/server`;
      await run("strip", ["--strip-all", "-o", stripped, unstripped.path]);
      assert.equal(parseSymbols(await Deno.readFile(stripped)).ok, false, "the image's binary has no symbols");
      const buildId = await readelfBuildId(unstripped.path);
      assert.equal(await readelfBuildId(stripped), buildId);
      const core = await crashIn({ path: stripped, source: "null_deref.c" }, `${dir}/run`);
      const site = await crashSiteOf(core);
      assert.equal(site.buildId, buildId);
      assert.equal(site.frames.some((f) => f.function), false, "no names without debuginfod");

      // The first server is down and the second has no debuginfo: the third's executable answers.
      const empty = debuginfodServer(new Map());
      const real = debuginfodServer(
        new Map([[`/buildid/${buildId}/executable`, await Deno.readFile(unstripped.path)]]),
      );
      servers.push(empty, real);
      const config = parseConfig(
        `StorageConfig:\n  S3Bucket: cores\nWatcher:\n  DebuginfodURLs: "http://127.0.0.1:${freePort()} ${empty.url}/  ${real.url}"\n`,
      );
      const logs: string[] = [];
      const client = new DebuginfodClient(config.watcher.debuginfodUrls, { logger: quietLogger(logs) });
      const named = await client.nameFrames(site);
      const mine = (requests: string[]) => requests.filter((path) => path.includes(buildId));
      assert.deepEqual(mine(empty.requests), [`/buildid/${buildId}/debuginfo`, `/buildid/${buildId}/executable`]);
      assert.deepEqual(mine(real.requests), [`/buildid/${buildId}/debuginfo`, `/buildid/${buildId}/executable`]);
      assert.ok(real.requests.some((path) => !path.includes(buildId)), "libc's build-id is asked for too");
      assert.equal(named.signature, site.signature, "names never change the signature");
      const own = named.frames.filter((f) => f.module === "server");
      assert.ok(own.length >= 3, `crash_here, middle and main: ${JSON.stringify(named.frames)}`);
      for (const frame of own) {
        const at = frame.how === "pc" ? frame.offset : frame.offset - 1;
        assert.equal(frame.function, await nmFunctionAt(unstripped.path, at), `nm's name at 0x${at.toString(16)}`);
      }
      assert.deepEqual(own.slice(0, 3).map((f) => f.function), ["crash_here", "middle", "main"]);
      for (const frame of named.frames.filter((f) => f.module !== "server")) {
        assert.equal(frame.function, undefined, `${frame.module}: no server has its build-id`);
      }
      const record = { ...sampleRecord(), crash: named };
      assert.match(
        renderTemplate("{crash.frames}", record),
        /^crash_here \(server\+0x[0-9a-f]+\) middle \(server\+0x[0-9a-f]+\) main \(server\+0x[0-9a-f]+\) libc/,
      );
      const asked = real.requests.length;
      await client.nameFrames(site);
      assert.equal(real.requests.length, asked, "answers are cached per build-id");
      console.log(`frames: ${renderTemplate("{crash.frames}", record)}`);

      // Limits: a server slower than the time limit, and a file larger than the size limit, give no names.
      const slow = debuginfodServer(new Map([[`/buildid/${buildId}/debuginfo`, new Uint8Array(10)]]), { hang: true });
      servers.push(slow);
      const started = Date.now();
      const timed = await new DebuginfodClient([slow.url], { logger: quietLogger(logs), timeoutMs: 300 })
        .nameFrames(site);
      assert.ok(Date.now() - started < 2_000, `bounded in time: ${Date.now() - started} ms`);
      assert.equal(timed.frames.some((f) => f.function), false);
      const small = await new DebuginfodClient([real.url], { logger: quietLogger(logs), maxBytes: 4096 })
        .nameFrames(site);
      assert.equal(small.frames.some((f) => f.function), false, "a file over the size limit is skipped");
      assert.ok(logs.some((l) => /more than the 4096 bytes allowed/.test(l)), logs.join("\n"));
    } finally {
      for (const server of servers) await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "symbols: .symtab of a real binary gives nm's functions; lookups outside a sized function find none",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-symbols-" });
    try {
      const binary = await buildCrasher("abort_in_libc.c", { dir, name: "aborter", framePointers: false });
      const parsed = parseSymbols(await Deno.readFile(binary.path));
      assert.ok(parsed.ok);
      const nm = (await run("nm", ["--defined-only", "-S", binary.path])).trim().split("\n")
        .map((line) => line.split(" ")).filter((p) => p.length === 4 && /^[tT]$/.test(p[2]));
      assert.ok(nm.length >= 3);
      for (const [address, size, , name] of nm) {
        const start = parseInt(address, 16);
        assert.equal(functionAt(parsed.table, start), name);
        assert.equal(functionAt(parsed.table, start + parseInt(size, 16) - 1), name);
      }
      assert.equal(functionAt(parsed.table, 0), undefined);
      const dyn = parseSymbols(await Deno.readFile("/lib/x86_64-linux-gnu/libc.so.6").catch(() => new Uint8Array()));
      if (dyn.ok) assert.ok(dyn.table.functions.some((f) => f.name === "abort"), ".dynsym of a stripped libc");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("config: Watcher.DebuginfodURLs takes a space-separated list and names a bad entry with the fix", () => {
  const parse = (value: string) =>
    parseConfig(`StorageConfig:\n  S3Bucket: cores\nWatcher:\n  DebuginfodURLs: "${value}"\n`);
  assert.deepEqual(parse("").watcher.debuginfodUrls, []);
  assert.deepEqual(parse(" https://a.example/  http://b:8002/ ").watcher.debuginfodUrls, [
    "https://a.example",
    "http://b:8002",
  ]);
  assert.throws(
    () => parse("https://a.example,https://b.example"),
    /Watcher.DebuginfodURLs entry "https:\/\/a.example,https:\/\/b.example" is not an http\(s\) URL; separate URLs with spaces/,
  );
});
