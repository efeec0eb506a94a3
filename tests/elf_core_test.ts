import assert from "node:assert/strict";
import fs from "node:fs";
import { crashFactsFromNotes, parseElfHeader, parseNotes, parseProgramHeaders } from "../src/core/elf_core.ts";
import { readCoreFacts } from "../src/watcher/core_facts_reader.ts";
import { realCoreBytes, realCoreSkipReason } from "./support/real_core.ts";

async function factsOf(bytes: Uint8Array) {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, bytes);
    const handle = await fs.promises.open(path, "r");
    try {
      return await readCoreFacts(handle, bytes.length);
    } finally {
      await handle.close();
    }
  } finally {
    await Deno.remove(path);
  }
}

Deno.test({
  name: "a real core from a crashed bash gives its signal, pid, command line and executable",
  ignore: realCoreSkipReason !== undefined,
  async fn() {
    const bytes = await realCoreBytes();
    const core = await factsOf(bytes);
    assert.equal(core.format, "elf-core");
    assert.deepEqual(core.problems, []);
    assert.equal(core.facts.signal, 11);
    assert.equal(core.facts.signalName, "SIGSEGV");
    assert.equal(core.facts.executable, "bash");
    assert.match(core.facts.args ?? "", /^\S*bash -c ulimit -c unlimited; kill -SEGV \$\$/);
    assert.ok((core.facts.pid ?? 0) > 1);
    assert.match(core.facts.executablePath ?? "", /\/bash$/);
    assert.equal(core.expectedBytes, bytes.length, "a complete core is exactly as long as its headers promise");
  },
});

Deno.test({
  name: "a core cut short still gives its facts and shows it is shorter than promised",
  ignore: realCoreSkipReason !== undefined,
  async fn() {
    const bytes = await realCoreBytes();
    const cut = bytes.slice(0, Math.floor(bytes.length / 2));
    const core = await factsOf(cut);
    assert.equal(core.format, "elf-core");
    assert.equal(core.facts.signal, 11);
    assert.equal(core.expectedBytes, bytes.length);
    assert.ok(cut.length < core.expectedBytes!);
  },
});

Deno.test("a file that is not ELF, or an ELF that is not a core, is told apart", async () => {
  const junk = await factsOf(new TextEncoder().encode("this is not a core dump\n".repeat(10)));
  assert.equal(junk.format, "not-elf");
  assert.deepEqual(junk.problems, ["no ELF magic"]);
  const empty = await factsOf(new Uint8Array(0));
  assert.equal(empty.format, "not-elf");
  const executable = await factsOf((await Deno.readFile("/bin/sh")).slice(0, 4096));
  assert.equal(executable.format, "elf");
  assert.match(executable.problems[0], /is not a core/);
});

Deno.test({
  name: "random damage to a real core's headers and notes never crashes or hangs the parser",
  ignore: realCoreSkipReason !== undefined,
  async fn() {
    const original = (await realCoreBytes()).slice(0, 64 * 1024);
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 300; round++) {
      const bytes = original.slice();
      const flips = 1 + Math.floor(random() * 16);
      for (let i = 0; i < flips; i++) {
        // Mostly the ELF header, program headers and first notes.
        const at = Math.floor(random() ** 2 * 8192);
        bytes[at] = Math.floor(random() * 256);
      }
      const header = parseElfHeader(bytes);
      if (!header.ok) continue;
      const phdrs = parseProgramHeaders(header.header, bytes.subarray(Math.min(header.header.phoff, bytes.length)));
      for (const ph of phdrs.slice(0, 64)) {
        if (ph.type !== 4 || ph.offset >= bytes.length) continue;
        const notes = parseNotes(
          header.header,
          bytes.subarray(ph.offset, Math.min(bytes.length, ph.offset + ph.fileSize)),
        );
        crashFactsFromNotes(header.header, notes);
      }
      const core = await factsOf(bytes);
      assert.ok(["elf-core", "elf", "not-elf"].includes(core.format));
    }
  },
});
