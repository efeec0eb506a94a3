/**
 * The pure parts of crash signatures on inputs a test controls byte by
 * byte: aarch64 registers, frame-pointer chains, module headers, the
 * signature's sensitivity, and the template variables.
 */

import assert from "node:assert/strict";
import { type CrashFrame, crashSite, framesText, signatureOf } from "../src/core/crash_signature.ts";
import type { ElfHeader, ElfNote } from "../src/core/elf_core.ts";
import { memoryMap } from "../src/core/elf_memory.ts";
import { parseModuleHeaders } from "../src/core/elf_module.ts";
import { firstThreadRegisters } from "../src/core/elf_registers.ts";
import { unwindStack } from "../src/core/elf_stack.ts";
import { renderTemplate, unknownVariables } from "../src/core/template.ts";
import { sampleRecord } from "./support/crash_records.ts";

const aarch64: ElfHeader = {
  bits: 64,
  littleEndian: true,
  type: 4,
  machine: "aarch64",
  phoff: 64,
  phentsize: 56,
  phnum: 0,
  shoff: 0,
  shentsize: 0,
};

function prstatus(regs: Record<number, number>, slots: number): ElfNote {
  const desc = new Uint8Array(112 + slots * 8 + 8);
  const view = new DataView(desc.buffer);
  for (const [slot, value] of Object.entries(regs)) view.setBigUint64(112 + Number(slot) * 8, BigInt(value), true);
  return { name: "CORE", type: 1, desc };
}

Deno.test("aarch64: pc, sp, x29 and x30 come from their user_pt_regs slots", () => {
  const note = prstatus({ 29: 0x7ff0_0100, 30: 0x40_1234, 31: 0x7ff0_0000, 32: 0x40_1000 }, 34);
  const result = firstThreadRegisters(aarch64, [note]);
  assert.deepEqual(result, { ok: true, registers: { pc: 0x40_1000, sp: 0x7ff0_0000, fp: 0x7ff0_0100, lr: 0x40_1234 } });
  const short = firstThreadRegisters(aarch64, [{ ...note, desc: note.desc.subarray(0, 200) }]);
  assert.equal(short.ok, false);
  assert.match((short as { reason: string }).reason, /too short for aarch64 registers/);
  const arm = firstThreadRegisters({ ...aarch64, machine: "arm", bits: 32 }, [note]);
  assert.deepEqual(arm, { ok: false, reason: "registers of arm (32-bit) cores are not read" });
});

Deno.test("aarch64: the frame-record chain and the link register give the callers in order", () => {
  const stackBase = 0x7ff0_0000;
  const stack = new Uint8Array(0x200);
  const view = new DataView(stack.buffer);
  const record = (at: number, next: number, ret: number) => {
    view.setBigUint64(at - stackBase, BigInt(next), true);
    view.setBigUint64(at - stackBase + 8, BigInt(ret), true);
  };
  record(0x7ff0_0040, 0x7ff0_0080, 0x40_2000);
  record(0x7ff0_0080, 0, 0x40_3000);
  const isCode = (a: number) => a >= 0x40_0000 && a < 0x50_0000;
  const unwound = unwindStack({ pc: 0x40_1000, sp: stackBase, fp: 0x7ff0_0040, lr: 0x40_1800 }, {
    machine: "aarch64",
    littleEndian: true,
    stack: { address: stackBase, bytes: stack },
    isCode,
  });
  assert.equal(unwound.method, "frame-pointer");
  assert.deepEqual(unwound.frames.map((f) => [f.address, f.how]), [
    [0x40_1000, "pc"],
    [0x40_1800, "link-register"],
    [0x40_2000, "frame-pointer"],
    [0x40_3000, "frame-pointer"],
  ]);
  // A chain that loops back is cut, not followed forever.
  record(0x7ff0_0080, 0x7ff0_0040, 0x40_3000);
  const looped = unwindStack({ pc: 0x40_1000, sp: stackBase, fp: 0x7ff0_0040 }, {
    machine: "aarch64",
    littleEndian: true,
    stack: { address: stackBase, bytes: stack },
    isCode,
  });
  assert.equal(looped.frames.length, 3);
});

Deno.test("signature: frame 0 counts, frames past the fifth do not, the executable and signal count", () => {
  const frame = (module: string, offset: number): CrashFrame => ({ module, offset, how: "scanned" });
  const base = [frame("server", 0x1139), frame("server", 0x1148), frame("libc.so.6", 0x2724a)];
  const one = signatureOf("/app/server", "SIGSEGV", base);
  assert.equal(one, signatureOf("/other/root/app/server", "SIGSEGV", base), "the path's directory does not count");
  assert.notEqual(one, signatureOf("/app/server", "SIGSEGV", [frame("server", 0x113b), ...base.slice(1)]));
  assert.notEqual(one, signatureOf("/app/server", "SIGBUS", base));
  assert.notEqual(one, signatureOf("/app/client", "SIGSEGV", base));
  const six = [...base, frame("a", 1), frame("b", 2), frame("c", 3)];
  assert.equal(
    signatureOf("/app/server", "SIGSEGV", six),
    signatureOf("/app/server", "SIGSEGV", [...six.slice(0, 5), frame("d", 4)]),
  );
});

Deno.test("module offsets add the link base of fixed-address executables, so they are the addresses nm shows", () => {
  const page = new Uint8Array(4096);
  const view = new DataView(page.buffer);
  page.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 62, true);
  view.setBigUint64(32, 64n, true);
  view.setUint16(54, 56, true);
  view.setUint16(56, 2, true);
  view.setUint32(64, 1, true); // PT_LOAD at 0x400000
  view.setBigUint64(64 + 16, 0x400000n, true);
  view.setUint32(120, 4, true); // PT_NOTE at 0x200
  view.setBigUint64(120 + 8, 0x200n, true);
  view.setBigUint64(120 + 32, 36n, true);
  view.setUint32(0x200, 4, true);
  view.setUint32(0x204, 20, true);
  view.setUint32(0x208, 3, true);
  page.set(new TextEncoder().encode("GNU\0"), 0x20c);
  page.set(Array.from({ length: 20 }, (_, i) => i), 0x210);
  const parsed = parseModuleHeaders(page);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.module, {
    kind: "exec",
    linkBase: 0x400000,
    buildId: "000102030405060708090a0b0c0d0e0f10111213",
  });
  const memory = memoryMap(
    [{ type: 1, flags: 5, offset: 0, fileSize: 0, vaddr: 0x401000, memSize: 0x1000 }],
    [{ start: 0x400000, end: 0x401000, fileOffset: 0, name: "/app/legacy" }, {
      start: 0x401000,
      end: 0x402000,
      fileOffset: 0x1000,
      name: "/app/legacy",
    }],
  );
  const site = crashSite({
    executable: "/app/legacy",
    signal: "SIGSEGV",
    stack: { frames: [{ address: 0x401136, how: "pc" }], method: "scanned" },
    memory,
    headers: new Map([["/app/legacy", parsed.module]]),
  });
  assert.equal(site.site, "legacy+0x401136");
  assert.equal(site.buildId, "000102030405060708090a0b0c0d0e0f10111213");
});

Deno.test("template: the crash variables render the site, frames, build-id and how often it was seen", () => {
  const record = sampleRecord();
  record.sighting = undefined;
  record.crash = {
    signature: "76b3a2e2b393fda7",
    site: "server+0x1139",
    unwind: "frame-pointer",
    frames: [
      { module: "server", offset: 0x1139, how: "pc", function: "crash_here" },
      { module: "libc.so.6", offset: 0x2724a, how: "frame-pointer" },
    ],
    buildId: "cf3607da",
    modules: [{ name: "server", path: "/app/server", buildId: "cf3607da" }, {
      name: "libc.so.6",
      path: "/lib/libc.so.6",
    }],
  };
  assert.deepEqual(unknownVariables("{crash.signature}{crash.site}{crash.frames}{crash.buildid}{crash.seen}"), []);
  assert.equal(
    renderTemplate("{crash.signature} {crash.site} {crash.buildid} [{crash.seen}]", record),
    "76b3a2e2b393fda7 server+0x1139 cf3607da [unknown]",
  );
  assert.equal(renderTemplate("{crash.frames}", record), "crash_here (server+0x1139) libc.so.6+0x2724a");
  assert.equal(framesText(record.crash.frames.slice(1)), "libc.so.6+0x2724a");
  assert.equal(renderTemplate("{crash.modules}", record), "server cf3607da, libc.so.6 no-build-id");
  record.sighting = { first: true, count: 1, pods: 1, nodes: 1, since: "2026-12-01T09:12:33.000Z" };
  assert.equal(renderTemplate("{crash.seen}", record), "new crash");
  record.sighting = { first: false, count: 14, pods: 5, nodes: 3, since: "2026-12-01T09:12:33.000Z" };
  assert.equal(renderTemplate("{crash.seen}", record), "seen 14 times in 5 pods on 3 nodes since 2026-12-01 09:12");
  record.sighting = { first: false, count: 2, pods: 1, nodes: 1, since: "2026-12-01T09:12:33.000Z" };
  assert.equal(renderTemplate("{crash.seen}", record), "seen 2 times in 1 pod on 1 node since 2026-12-01 09:12");
  record.crash = { noSignature: "not an ELF core", frames: [], modules: [] };
  record.sighting = undefined;
  assert.equal(
    renderTemplate("{crash.signature} | {crash.site} | {crash.seen}", record),
    "none (not an ELF core) | unknown | no signature",
  );
});
