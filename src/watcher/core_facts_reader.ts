/**
 * Reads a core's crash facts from an open file: the ELF header, the
 * program headers and the notes, never the whole file.
 *
 * @module
 */

import type fs from "node:fs";
import {
  type CoreFacts,
  crashFactsFromNotes,
  ELF_HEADER_BYTES,
  type ElfNote,
  expectedCoreSize,
  isCore,
  noteRanges,
  parseElfHeader,
  parseNotes,
  parseProgramHeaders,
  programHeaderCountFromSectionZero,
  programHeaderRange,
  sectionZeroRange,
} from "../core/elf_core.ts";

/** What the file turned out to be. */
export interface CoreFileFacts {
  format: "elf-core" | "elf" | "not-elf";
  facts: CoreFacts;
  /** Size the program headers promise (ELF cores only). */
  expectedBytes?: number;
  /** Why facts are missing, e.g. "no ELF magic". */
  problems: string[];
}

/** Reads the facts of the file behind `handle`, which is `size` bytes long. */
export async function readCoreFacts(handle: fs.promises.FileHandle, size: number): Promise<CoreFileFacts> {
  const headerBytes = await readRange(handle, 0, Math.min(ELF_HEADER_BYTES, size));
  const parsed = parseElfHeader(headerBytes);
  if (!parsed.ok) return { format: "not-elf", facts: {}, problems: [parsed.reason] };
  const header = parsed.header;
  if (!isCore(header)) {
    return { format: "elf", facts: {}, problems: [`ELF type ${header.type} is not a core (4)`] };
  }
  let count = header.phnum;
  const sectionZero = sectionZeroRange(header);
  if (sectionZero) {
    count =
      programHeaderCountFromSectionZero(header, await readRange(handle, sectionZero.offset, sectionZero.length)) ??
        0;
  }
  const range = programHeaderRange(header, count);
  if ("reason" in range) return { format: "elf-core", facts: {}, problems: [range.reason] };
  const phBytes = await readRange(handle, range.offset, range.length);
  const headers = parseProgramHeaders(header, phBytes);
  const problems: string[] = [];
  if (headers.length < count) problems.push("program headers cut short");
  const notes: ElfNote[] = [];
  for (const noteRange of noteRanges(headers, size)) {
    notes.push(...parseNotes(header, await readRange(handle, noteRange.offset, noteRange.length)));
  }
  if (notes.length === 0) problems.push("no readable notes");
  return {
    format: "elf-core",
    facts: crashFactsFromNotes(header, notes),
    expectedBytes: expectedCoreSize(headers),
    problems,
  };
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
