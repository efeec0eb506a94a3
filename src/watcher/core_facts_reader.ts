/**
 * Reads a core's crash facts from an open file: the ELF header, the
 * program headers and the notes, then for the crash site the crashing
 * thread's stack (at most `MAX_STACK_BYTES`) and the first page of each
 * module in its frames (at most `MAX_MODULES` pages of `MODULE_HEADER_BYTES`),
 * never the whole file.
 *
 * @module
 */

import type fs from "node:fs";
import { type CrashSite, crashSite, noCrashSite } from "../core/crash_signature.ts";
import {
  type CoreFacts,
  crashFactsFromNotes,
  ELF_HEADER_BYTES,
  type ElfHeader,
  type ElfNote,
  expectedCoreSize,
  isCore,
  mappedFilesFromNotes,
  noteRanges,
  parseElfHeader,
  parseNotes,
  parseProgramHeaders,
  type ProgramHeader,
  programHeaderCountFromSectionZero,
  programHeaderRange,
  sectionZeroRange,
} from "../core/elf_core.ts";
import { codeAt, memoryMap, memoryRange } from "../core/elf_memory.ts";
import { MODULE_HEADER_BYTES, type ModuleHeaders, parseModuleHeaders } from "../core/elf_module.ts";
import { firstThreadRegisters } from "../core/elf_registers.ts";
import { MAX_STACK_BYTES, unwindStack } from "../core/elf_stack.ts";

/** Modules whose first page is read at most: the executable and those of the recorded frames. */
const MAX_MODULES = 17;

/** What the file turned out to be. */
export interface CoreFileFacts {
  format: "elf-core" | "elf" | "not-elf";
  facts: CoreFacts;
  /** Size the program headers promise (ELF cores only). */
  expectedBytes?: number;
  /** Why facts are missing, e.g. "no ELF magic". */
  problems: string[];
  /** Crash site, frames, build-ids and signature, or why there is no signature. */
  crash: CrashSite;
}

/** Options of {@linkcode readCoreFacts}. */
export interface ReadCoreFactsOptions {
  /**
   * Also unwind a core shorter than its program headers say (one cut off
   * by a timeout). False skips the stack and module reads for a core the
   * kernel is still writing, which the caller will look at again. True by
   * default.
   */
  crashSiteWhenShort?: boolean;
}

/** Reads the facts of the file behind `handle`, which is `size` bytes long. */
export async function readCoreFacts(
  handle: fs.promises.FileHandle,
  size: number,
  options: ReadCoreFactsOptions = {},
): Promise<CoreFileFacts> {
  const headerBytes = await readRange(handle, 0, Math.min(ELF_HEADER_BYTES, size));
  const parsed = parseElfHeader(headerBytes);
  if (!parsed.ok) {
    return { format: "not-elf", facts: {}, problems: [parsed.reason], crash: noCrashSite("not an ELF core") };
  }
  const header = parsed.header;
  if (!isCore(header)) {
    const problem = `ELF type ${header.type} is not a core (4)`;
    return { format: "elf", facts: {}, problems: [problem], crash: noCrashSite(problem) };
  }
  let count = header.phnum;
  const sectionZero = sectionZeroRange(header);
  if (sectionZero) {
    count =
      programHeaderCountFromSectionZero(header, await readRange(handle, sectionZero.offset, sectionZero.length)) ??
        0;
  }
  const range = programHeaderRange(header, count);
  if ("reason" in range) {
    return { format: "elf-core", facts: {}, problems: [range.reason], crash: noCrashSite(range.reason) };
  }
  const phBytes = await readRange(handle, range.offset, range.length);
  const headers = parseProgramHeaders(header, phBytes);
  const problems: string[] = [];
  if (headers.length < count) problems.push("program headers cut short");
  const notes: ElfNote[] = [];
  for (const noteRange of noteRanges(headers, size)) {
    notes.push(...parseNotes(header, await readRange(handle, noteRange.offset, noteRange.length)));
  }
  if (notes.length === 0) problems.push("no readable notes");
  const facts = crashFactsFromNotes(header, notes);
  const expectedBytes = expectedCoreSize(headers);
  const short = size < expectedBytes;
  return {
    format: "elf-core",
    facts,
    expectedBytes,
    problems,
    crash: short && options.crashSiteWhenShort === false
      ? noCrashSite("the core is still being written")
      : await readCrashSite(handle, { header, headers, notes, facts, size }),
  };
}

/** Unwinds the first thread and names its frames; reads the stack and the modules' first pages. */
async function readCrashSite(
  handle: fs.promises.FileHandle,
  core: { header: ElfHeader; headers: ProgramHeader[]; notes: ElfNote[]; facts: CoreFacts; size: number },
): Promise<CrashSite> {
  const { header, headers, notes, facts, size } = core;
  if (notes.length === 0) return noCrashSite("the core has no readable notes");
  const registers = firstThreadRegisters(header, notes);
  if (!registers.ok) return noCrashSite(registers.reason);
  const files = mappedFilesFromNotes(header, notes);
  if (files.length === 0) return noCrashSite("the core has no NT_FILE note, so frames cannot be tied to files");
  const memory = memoryMap(headers, files);
  const stackRange = memoryRange(headers, registers.registers.sp, { maxLength: MAX_STACK_BYTES, fileSize: size });
  const stack = stackRange
    ? { address: registers.registers.sp, bytes: await readRange(handle, stackRange.offset, stackRange.length) }
    : undefined;
  const unwound = unwindStack(registers.registers, {
    machine: header.machine,
    littleEndian: header.littleEndian,
    stack,
    isCode: (address) => codeAt(memory, address) !== undefined,
  });
  const wanted = new Set<string>();
  if (facts.executablePath) wanted.add(facts.executablePath);
  for (const frame of unwound.frames) {
    const code = codeAt(memory, frame.address);
    if (code) wanted.add(code.module.path);
  }
  const moduleHeaders = new Map<string, ModuleHeaders>();
  for (const path of [...wanted].slice(0, MAX_MODULES)) {
    const module = memory.modules.get(path);
    if (!module) continue;
    const range = memoryRange(headers, module.base, { maxLength: MODULE_HEADER_BYTES, fileSize: size });
    if (!range) continue;
    const parsed = parseModuleHeaders(await readRange(handle, range.offset, range.length));
    if (parsed.ok) moduleHeaders.set(path, parsed.module);
  }
  const site = crashSite({
    executable: facts.executablePath ?? facts.executable,
    signal: facts.signalName,
    stack: unwound,
    memory,
    headers: moduleHeaders,
  });
  if (!stack && !site.noSignature) {
    // A signature from the pc alone would differ from the same crash's full
    // signature, splitting one bug into two groups.
    delete site.signature;
    site.noSignature = "the stack is not in the core (truncated, or left out by coredump_filter)";
  }
  return site;
}

async function readRange(handle: fs.promises.FileHandle, offset: number, length: number): Promise<Uint8Array> {
  if (length <= 0 || offset < 0 || !Number.isSafeInteger(offset + length)) return new Uint8Array(0);
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
