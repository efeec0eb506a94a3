/**
 * What a mapped ELF file's first page, as the core holds it, says about the
 * file: its type, where its code is placed relative to its load address, and
 * its GNU build-id (the name debuginfod and `readelf -n` know it by).
 *
 * Pure and bounds-checked: the page comes from an untrusted core, and only
 * what lies inside it is read (a program header table or note past the
 * first page is reported missing, not fetched).
 *
 * @module
 */

import { type ElfHeader, parseElfHeader, parseNotes, parseProgramHeaders, PT_LOAD, PT_NOTE } from "./elf_core.ts";

const NT_GNU_BUILD_ID = 3;
const ET_EXEC = 2;
const ET_DYN = 3;

/** Bytes of a mapped file's start that the reader asks the core for: one page holds the headers. */
export const MODULE_HEADER_BYTES = 4096;

/** Longest build-id kept (SHA-1 ids are 20 bytes; some linkers write up to 64). */
const MAX_BUILD_ID_BYTES = 64;

/** What a mapped file's headers tell. */
export interface ModuleHeaders {
  /** `exec` (fixed address), `dyn` (PIE or shared library) or the raw `e_type`. */
  kind: "exec" | "dyn" | `type ${number}`;
  /**
   * The ELF virtual address the file's first byte is linked at (the first
   * PT_LOAD's `p_vaddr - p_offset`): 0 for PIE and shared libraries,
   * e.g. 0x400000 for a fixed-address executable. A module offset is the
   * address minus the load base plus this, so it is the address `nm`,
   * `addr2line` and `gdb` use for the file.
   */
  linkBase: number;
  /** Lower-case hex GNU build-id, when the first page holds it. */
  buildId?: string;
}

/** Result of {@linkcode parseModuleHeaders}. */
export type ModuleHeadersResult = { ok: true; module: ModuleHeaders } | { ok: false; reason: string };

/** Reads a mapped file's headers from its first page. */
export function parseModuleHeaders(page: Uint8Array): ModuleHeadersResult {
  const parsed = parseElfHeader(page);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const header = parsed.header;
  const kind = header.type === ET_EXEC ? "exec" : header.type === ET_DYN ? "dyn" : `type ${header.type}` as const;
  const tableBytes = header.phentsize * header.phnum;
  if (header.phentsize < (header.bits === 64 ? 56 : 32) || header.phoff >= page.length) {
    return { ok: true, module: { kind, linkBase: 0 } };
  }
  const table = page.subarray(header.phoff, Math.min(page.length, header.phoff + tableBytes));
  const headers = parseProgramHeaders(header, table);
  const first = headers.find((ph) => ph.type === PT_LOAD);
  const linkBase = first && first.vaddr >= first.offset ? first.vaddr - first.offset : 0;
  const module: ModuleHeaders = { kind, linkBase };
  for (const ph of headers) {
    if (ph.type !== PT_NOTE || ph.offset >= page.length) continue;
    const buildId = buildIdIn(header, page.subarray(ph.offset, Math.min(page.length, ph.offset + ph.fileSize)));
    if (buildId) {
      module.buildId = buildId;
      break;
    }
  }
  return { ok: true, module };
}

/** The GNU build-id among the notes in `bytes`, as lower-case hex. */
function buildIdIn(header: ElfHeader, bytes: Uint8Array): string | undefined {
  for (const note of parseNotes(header, bytes)) {
    if (note.name !== "GNU" || note.type !== NT_GNU_BUILD_ID || note.desc.length === 0) continue;
    return [...note.desc.subarray(0, MAX_BUILD_ID_BYTES)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  return undefined;
}
