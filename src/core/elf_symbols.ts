/**
 * Function symbols of an ELF file (`.symtab`, else what `.dynsym` has), so
 * that a frame's `module+0xoffset` can be shown with its function name: the
 * offset is the file's virtual address, the same number `nm` lists.
 *
 * Pure and bounds-checked: the file comes from a debuginfod server, which is
 * trusted no more than a core. Sections or names that point outside the file
 * are skipped; the number of symbols and the length of a name are capped.
 *
 * @module
 */

import { parseElfHeader, readWord } from "./elf_core.ts";

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

/** Function symbols kept at most per file. */
const MAX_SYMBOLS = 500_000;

/** Longest symbol name kept, bytes (C++ names can be long; beyond this they are cut). */
export const MAX_NAME_BYTES = 512;

/** One function: `[start, start + size)` in the file's virtual addresses. */
export interface FunctionSymbol {
  start: number;
  /** 0 when the symbol table does not say. */
  size: number;
  name: string;
}

/** A file's functions, sorted by address. */
export interface SymbolTable {
  functions: FunctionSymbol[];
}

/** Result of {@linkcode parseSymbols}. */
export type SymbolsResult = { ok: true; table: SymbolTable } | { ok: false; reason: string };

/** Reads the function symbols of the ELF file `bytes`. */
export function parseSymbols(bytes: Uint8Array): SymbolsResult {
  const parsed = parseElfHeader(bytes);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const header = parsed.header;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  const is64 = header.bits === 64;
  const shnum = view.getUint16(is64 ? 60 : 48, le);
  const entry = is64 ? 64 : 40;
  if (header.shoff === 0 || shnum === 0) return { ok: false, reason: "no section headers" };
  if (header.shentsize < entry) return { ok: false, reason: `section header size ${header.shentsize} too small` };
  if (header.shoff + shnum * header.shentsize > bytes.length) {
    return { ok: false, reason: "the section header table lies past the end of the file" };
  }
  const sections = Array.from({ length: shnum }, (_, i) => {
    const at = header.shoff + i * header.shentsize;
    return {
      type: view.getUint32(at + 4, le),
      offset: readWord(view, at + (is64 ? 24 : 16), header),
      size: readWord(view, at + (is64 ? 32 : 20), header),
      link: view.getUint32(at + (is64 ? 40 : 24), le),
    };
  });
  const inFile = (s: { offset: number; size: number }) => s.offset <= bytes.length && s.size <= bytes.length - s.offset;
  const functions: FunctionSymbol[] = [];
  // The full table first: .dynsym only has what the file exports.
  for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const table of sections.filter((s) => s.type === type && inFile(s))) {
      const strings = sections[table.link];
      if (!strings || !inFile(strings)) continue;
      readFunctions(view, { table, strings, is64, le, header }, functions);
      if (functions.length >= MAX_SYMBOLS) break;
    }
    if (functions.length > 0) break;
  }
  if (functions.length === 0) return { ok: false, reason: "no function symbols (.symtab and .dynsym empty or absent)" };
  functions.sort((a, b) => a.start - b.start || b.size - a.size);
  return { ok: true, table: { functions } };
}

/** The function holding `offset`, or undefined when none does. */
export function functionAt(table: SymbolTable, offset: number): string | undefined {
  const { functions } = table;
  let low = 0;
  let high = functions.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (functions[mid].start <= offset) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  if (found === -1) return undefined;
  // Aliases share a start; the sort put the sized one first among them.
  let candidate = functions[found];
  while (found > 0 && functions[found - 1].start === candidate.start) candidate = functions[--found];
  if (candidate.size > 0 && offset >= candidate.start + candidate.size) return undefined;
  return candidate.name;
}

function readFunctions(
  view: DataView,
  input: {
    table: { offset: number; size: number };
    strings: { offset: number; size: number };
    is64: boolean;
    le: boolean;
    header: Parameters<typeof readWord>[2];
  },
  into: FunctionSymbol[],
): void {
  const { table, strings, is64, le, header } = input;
  const size = is64 ? 24 : 16;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const decoder = new TextDecoder();
  for (let at = table.offset; at + size <= table.offset + table.size; at += size) {
    if (into.length >= MAX_SYMBOLS) return;
    const name = view.getUint32(at, le);
    const info = view.getUint8(at + (is64 ? 4 : 12));
    const shndx = view.getUint16(at + (is64 ? 6 : 14), le);
    const kind = info & 0xf;
    if ((kind !== STT_FUNC && kind !== STT_GNU_IFUNC) || shndx === 0 || name >= strings.size) continue;
    const start = readWord(view, at + (is64 ? 8 : 4), header);
    const length = readWord(view, at + (is64 ? 16 : 8), header);
    const from = strings.offset + name;
    const limit = Math.min(strings.offset + strings.size, from + MAX_NAME_BYTES);
    let end = from;
    while (end < limit && bytes[end] !== 0) end++;
    if (end === from) continue;
    into.push({ start, size: length, name: decoder.decode(bytes.subarray(from, end)) });
  }
}
