/**
 * The crashed process's memory as the core holds it: which file bytes hold
 * an address, and which addresses are code of which mapped file.
 *
 * Pure. The kernel writes one PT_LOAD per mapping; `coredump_filter`
 * decides which of them carry their bytes (`p_filesz > 0`): by default
 * anonymous memory such as stacks, and the first page of every mapped ELF
 * file, but not the code itself.
 *
 * @module
 */

import { type ByteRange, type MappedFile, PF_X, type ProgramHeader, PT_LOAD } from "./elf_core.ts";

/** A mapped file's place in memory. */
export interface ModuleMapping {
  /** Path as the process saw it. */
  path: string;
  /** Lowest address of the mapping of the file's first byte: where its ELF header is. */
  base: number;
}

/** An executable range of memory and the file it maps. */
export interface CodeRange {
  start: number;
  end: number;
  module: ModuleMapping;
}

/** What the unwinder and the frame naming need to know about memory. */
export interface MemoryMap {
  /** Executable ranges with their file, sorted by start. */
  code: CodeRange[];
  /** Every mapped file with a mapping of its first byte, by path. */
  modules: Map<string, ModuleMapping>;
}

/** Most code ranges kept; a process with more executable mappings than this is cut (bounds the lookups). */
const MAX_CODE_RANGES = 4096;

/**
 * Builds the memory map from the program headers and NT_FILE: code is a
 * PT_LOAD with `PF_X` that a file mapping covers.
 */
export function memoryMap(headers: ProgramHeader[], files: MappedFile[]): MemoryMap {
  const modules = new Map<string, ModuleMapping>();
  for (const file of files) {
    if (file.fileOffset !== 0 || file.end <= file.start) continue;
    const known = modules.get(file.name);
    if (!known || file.start < known.base) modules.set(file.name, { path: file.name, base: file.start });
  }
  const byStart = [...files].sort((a, b) => a.start - b.start);
  const code: CodeRange[] = [];
  for (const ph of headers) {
    if (ph.type !== PT_LOAD || (ph.flags & PF_X) === 0 || ph.memSize === 0) continue;
    const file = fileAt(byStart, ph.vaddr);
    const module = file && modules.get(file.name);
    if (!module) continue;
    code.push({ start: ph.vaddr, end: ph.vaddr + ph.memSize, module });
    if (code.length >= MAX_CODE_RANGES) break;
  }
  code.sort((a, b) => a.start - b.start);
  return { code, modules };
}

/** The mapping of `sorted` (by start) that holds `address`. */
function fileAt(sorted: MappedFile[], address: number): MappedFile | undefined {
  let low = 0;
  let high = sorted.length - 1;
  let candidate: MappedFile | undefined;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (sorted[mid].start <= address) {
      candidate = sorted[mid];
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return candidate && address < candidate.end ? candidate : undefined;
}

/** The code range holding `address`, or undefined when it is not code of a mapped file. */
export function codeAt(map: MemoryMap, address: number): CodeRange | undefined {
  let low = 0;
  let high = map.code.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const range = map.code[mid];
    if (address < range.start) high = mid - 1;
    else if (address >= range.end) low = mid + 1;
    else return range;
  }
  return undefined;
}

/**
 * The file bytes holding memory from `address` on, at most `maxLength` of
 * them and only what the core really contains (`p_filesz`, the file's size).
 */
export function memoryRange(
  headers: ProgramHeader[],
  address: number,
  options: { maxLength: number; fileSize: number },
): ByteRange | undefined {
  for (const ph of headers) {
    if (ph.type !== PT_LOAD || address < ph.vaddr || address >= ph.vaddr + ph.fileSize) continue;
    const offset = ph.offset + (address - ph.vaddr);
    if (offset >= options.fileSize) return undefined;
    const length = Math.min(ph.vaddr + ph.fileSize - address, options.maxLength, options.fileSize - offset);
    return length > 0 ? { offset, length } : undefined;
  }
  return undefined;
}
