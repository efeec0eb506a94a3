/**
 * ELF core file parsing from byte buffers: the header, the program headers
 * and the notes that carry the crash facts (signal, pid, command line,
 * executable path).
 *
 * Pure: the caller reads the byte ranges this module asks for, which keeps
 * the watcher from ever reading a whole core into memory. Every offset and
 * count comes from an untrusted file, so each read is bounds-checked and
 * every loop advances by at least one note header.
 *
 * @module
 */

import { signalName } from "./signals.ts";

/** Size of the ELF identification plus the largest (64-bit) ELF header. */
export const ELF_HEADER_BYTES = 64;
/** Notes beyond this many bytes are ignored; NT_FILE of huge processes stays well below. */
const MAX_NOTE_BYTES = 8 * 1024 * 1024;
/** Program header tables beyond this many bytes are not read. */
const MAX_PROGRAM_HEADER_BYTES = 8 * 1024 * 1024;

const ET_CORE = 4;
/** Program header type of a loadable segment (in a core: one per memory mapping). */
export const PT_LOAD = 1;
/** Program header type of a note segment. */
export const PT_NOTE = 4;
/** `p_flags` bit of an executable segment. */
export const PF_X = 1;
const PN_XNUM = 0xffff;
const NT_PRSTATUS = 1;
const NT_PRPSINFO = 3;
const NT_AUXV = 6;
const NT_SIGINFO = 0x53494749;
const NT_FILE = 0x46494c45;
const AT_ENTRY = 9;

const MACHINES: Record<number, string> = {
  3: "i386",
  40: "arm",
  62: "x86_64",
  183: "aarch64",
  243: "riscv",
  21: "ppc64",
  22: "s390",
};

/** What the ELF header says about the file. */
export interface ElfHeader {
  /** 32 or 64. */
  bits: 32 | 64;
  littleEndian: boolean;
  /** `e_type`: 4 for a core. */
  type: number;
  /** Architecture name such as `x86_64`, or `machine <n>` when unknown. */
  machine: string;
  phoff: number;
  phentsize: number;
  /** Program header count; `0xffff` means the real count is in section header 0. */
  phnum: number;
  shoff: number;
  shentsize: number;
}

/** One program header (segment). */
export interface ProgramHeader {
  type: number;
  /** `p_flags`: 1 executable, 2 writable, 4 readable. */
  flags: number;
  offset: number;
  fileSize: number;
  vaddr: number;
  /** Size in memory; more than `fileSize` where the kernel left the contents out (`coredump_filter`). */
  memSize: number;
}

/** One file mapping from NT_FILE: `[start, end)` maps the file from byte `fileOffset`. */
export interface MappedFile {
  start: number;
  end: number;
  fileOffset: number;
  /** Path as the process saw it (inside its container). */
  name: string;
}

/** A byte range of the file the caller should read. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** One ELF note. */
export interface ElfNote {
  name: string;
  type: number;
  desc: Uint8Array;
}

/** The crash facts CoreDog reads from a core's notes. */
export interface CoreFacts {
  /** Signal that killed the process (NT_SIGINFO, else NT_PRSTATUS). */
  signal?: number;
  /** Conventional name of {@linkcode CoreFacts.signal}, e.g. `SIGSEGV`. */
  signalName?: string;
  /** Process id as seen inside the process's own pid namespace. */
  pid?: number;
  /** Real user id of the process. */
  uid?: number;
  /** `comm` (at most 15 bytes) from NT_PRPSINFO. */
  executable?: string;
  /** Command line (first 80 bytes) from NT_PRPSINFO. */
  args?: string;
  /** Path of the mapped executable, from NT_FILE. */
  executablePath?: string;
}

/** Result of {@linkcode parseElfHeader}. */
export type ElfHeaderResult =
  | { ok: true; header: ElfHeader }
  | { ok: false; reason: string };

/** Parses the first {@linkcode ELF_HEADER_BYTES} bytes of a file. */
export function parseElfHeader(bytes: Uint8Array): ElfHeaderResult {
  if (bytes.length < 16) return { ok: false, reason: "shorter than an ELF identification" };
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    return { ok: false, reason: "no ELF magic" };
  }
  const elfClass = bytes[4];
  const data = bytes[5];
  if (elfClass !== 1 && elfClass !== 2) return { ok: false, reason: `bad ELF class ${elfClass}` };
  if (data !== 1 && data !== 2) return { ok: false, reason: `bad ELF data encoding ${data}` };
  const bits = elfClass === 2 ? 64 : 32;
  const needed = bits === 64 ? 64 : 52;
  if (bytes.length < needed) return { ok: false, reason: "truncated ELF header" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = data === 1;
  const type = view.getUint16(16, le);
  const machineNumber = view.getUint16(18, le);
  const machine = MACHINES[machineNumber] ?? `machine ${machineNumber}`;
  if (bits === 64) {
    return {
      ok: true,
      header: {
        bits,
        littleEndian: le,
        type,
        machine,
        phoff: readU64(view, 32, le),
        shoff: readU64(view, 40, le),
        phentsize: view.getUint16(54, le),
        phnum: view.getUint16(56, le),
        shentsize: view.getUint16(58, le),
      },
    };
  }
  return {
    ok: true,
    header: {
      bits,
      littleEndian: le,
      type,
      machine,
      phoff: view.getUint32(28, le),
      shoff: view.getUint32(32, le),
      phentsize: view.getUint16(42, le),
      phnum: view.getUint16(44, le),
      shentsize: view.getUint16(46, le),
    },
  };
}

/** True when the header describes a core file (`e_type` ET_CORE). */
export function isCore(header: ElfHeader): boolean {
  return header.type === ET_CORE;
}

/**
 * Where section header 0 lies, when the program header count overflowed
 * (`e_phnum == PN_XNUM`) and the real count is in its `sh_info`.
 */
export function sectionZeroRange(header: ElfHeader): ByteRange | undefined {
  if (header.phnum !== PN_XNUM || header.shoff === 0) return undefined;
  return { offset: header.shoff, length: header.bits === 64 ? 64 : 40 };
}

/** Reads the real program header count from section header 0's `sh_info`. */
export function programHeaderCountFromSectionZero(
  header: ElfHeader,
  bytes: Uint8Array,
): number | undefined {
  const at = header.bits === 64 ? 44 : 28;
  if (bytes.length < at + 4) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(at, header.littleEndian);
}

/** The program header table's range, or why it cannot be read. */
export function programHeaderRange(
  header: ElfHeader,
  count: number = header.phnum,
): ByteRange | { reason: string } {
  const minEntry = header.bits === 64 ? 56 : 32;
  if (header.phentsize < minEntry) return { reason: `program header size ${header.phentsize} too small` };
  if (count === 0) return { reason: "no program headers" };
  const length = header.phentsize * count;
  if (length > MAX_PROGRAM_HEADER_BYTES) return { reason: `program header table of ${length} bytes is too large` };
  return { offset: header.phoff, length };
}

/** Parses as many whole program headers as `bytes` holds. */
export function parseProgramHeaders(header: ElfHeader, bytes: Uint8Array): ProgramHeader[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  const result: ProgramHeader[] = [];
  for (let at = 0; at + header.phentsize <= bytes.length; at += header.phentsize) {
    if (header.bits === 64) {
      result.push({
        type: view.getUint32(at, le),
        flags: view.getUint32(at + 4, le),
        offset: readU64(view, at + 8, le),
        vaddr: readU64(view, at + 16, le),
        fileSize: readU64(view, at + 32, le),
        memSize: readU64(view, at + 40, le),
      });
    } else {
      result.push({
        type: view.getUint32(at, le),
        flags: view.getUint32(at + 24, le),
        offset: view.getUint32(at + 4, le),
        vaddr: view.getUint32(at + 8, le),
        fileSize: view.getUint32(at + 16, le),
        memSize: view.getUint32(at + 20, le),
      });
    }
  }
  return result;
}

/**
 * The size the file must have for every segment to be present. A core
 * smaller than this is still being written or was truncated (a kill during
 * the dump, a full disk, `ulimit -c` too small).
 */
export function expectedCoreSize(headers: ProgramHeader[]): number {
  let end = 0;
  for (const ph of headers) {
    if (ph.type !== PT_LOAD && ph.type !== PT_NOTE) continue;
    end = Math.max(end, ph.offset + ph.fileSize);
  }
  return end;
}

/** The PT_NOTE segments' ranges, clipped to `fileSize` and {@linkcode MAX_NOTE_BYTES} in total. */
export function noteRanges(headers: ProgramHeader[], fileSize: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  let budget = MAX_NOTE_BYTES;
  for (const ph of headers) {
    if (ph.type !== PT_NOTE || ph.offset >= fileSize || budget <= 0) continue;
    const length = Math.min(ph.fileSize, fileSize - ph.offset, budget);
    if (length <= 0) continue;
    ranges.push({ offset: ph.offset, length });
    budget -= length;
  }
  return ranges;
}

/** Parses the notes in one PT_NOTE segment; stops at the first malformed note. */
export function parseNotes(header: ElfHeader, bytes: Uint8Array): ElfNote[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  const notes: ElfNote[] = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    const nameSize = view.getUint32(at, le);
    const descSize = view.getUint32(at + 4, le);
    const type = view.getUint32(at + 8, le);
    const nameStart = at + 12;
    const descStart = nameStart + align4(nameSize);
    const next = descStart + align4(descSize);
    if (next > bytes.length) break;
    const name = decodeCString(bytes.subarray(nameStart, nameStart + nameSize));
    notes.push({ name, type, desc: bytes.subarray(descStart, descStart + descSize) });
    at = next;
  }
  return notes;
}

/** Extracts the crash facts from a core's notes; unknown or short notes are skipped. */
export function crashFactsFromNotes(header: ElfHeader, notes: ElfNote[]): CoreFacts {
  const facts: CoreFacts = {};
  let entry: number | undefined;
  let files: MappedFile[] = [];
  for (const note of notes) {
    if (note.name !== "CORE") continue;
    const view = new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.byteLength);
    const le = header.littleEndian;
    if (note.type === NT_PRSTATUS && facts.pid === undefined) {
      const pidAt = header.bits === 64 ? 32 : 24;
      if (note.desc.length >= pidAt + 4) {
        const cursig = view.getUint16(12, le);
        if (facts.signal === undefined && cursig > 0) facts.signal = cursig;
        facts.pid = view.getInt32(pidAt, le);
      }
    } else if (note.type === NT_SIGINFO) {
      if (note.desc.length >= 4) {
        const signo = view.getInt32(0, le);
        if (signo > 0) facts.signal = signo;
      }
    } else if (note.type === NT_PRPSINFO) {
      Object.assign(facts, parsePrpsinfo(header, note.desc));
    } else if (note.type === NT_AUXV) {
      entry = auxvEntry(header, note.desc);
    } else if (note.type === NT_FILE) {
      files = parseFileNote(header, note.desc);
    }
  }
  const exe = pickExecutable(files, entry, facts.executable);
  if (exe) facts.executablePath = exe;
  if (facts.signal !== undefined) facts.signalName = signalName(facts.signal);
  return facts;
}

function parsePrpsinfo(header: ElfHeader, desc: Uint8Array): CoreFacts {
  // 64-bit: pr_flag is 8 bytes and uid/gid are 32-bit; on 32-bit ports the
  // common layout (i386, arm) has a 4-byte pr_flag and 16-bit uid/gid.
  const layout = header.bits === 64
    ? { uid: 16, uidBytes: 4, pid: 24, fname: 40, psargs: 56 }
    : { uid: 8, uidBytes: 2, pid: 12, fname: 28, psargs: 44 };
  if (desc.length < layout.psargs + 80) return {};
  const view = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
  const le = header.littleEndian;
  const uid = layout.uidBytes === 4 ? view.getUint32(layout.uid, le) : view.getUint16(layout.uid, le);
  const facts: CoreFacts = {
    uid,
    pid: view.getInt32(layout.pid, le),
  };
  const comm = decodeCString(desc.subarray(layout.fname, layout.fname + 16));
  if (comm) facts.executable = comm;
  const args = decodeCString(desc.subarray(layout.psargs, layout.psargs + 80)).trimEnd();
  if (args) facts.args = args;
  return facts;
}

function auxvEntry(header: ElfHeader, desc: Uint8Array): number | undefined {
  const word = header.bits === 64 ? 8 : 4;
  const view = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
  for (let at = 0; at + 2 * word <= desc.length; at += 2 * word) {
    const key = readWord(view, at, header);
    if (key === 0) break;
    if (key === AT_ENTRY) return readWord(view, at + word, header);
  }
  return undefined;
}

/** The file mappings of the first NT_FILE note; empty when there is none or it is malformed. */
export function mappedFilesFromNotes(header: ElfHeader, notes: ElfNote[]): MappedFile[] {
  const note = notes.find((n) => n.name === "CORE" && n.type === NT_FILE);
  return note ? parseFileNote(header, note.desc) : [];
}

function parseFileNote(header: ElfHeader, desc: Uint8Array): MappedFile[] {
  const word = header.bits === 64 ? 8 : 4;
  if (desc.length < 2 * word) return [];
  const view = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
  const count = readWord(view, 0, header);
  const pageSize = readWord(view, word, header);
  const tableEnd = 2 * word + count * 3 * word;
  if (count <= 0 || tableEnd > desc.length) return [];
  const entries: MappedFile[] = [];
  let nameAt = tableEnd;
  for (let i = 0; i < count && nameAt < desc.length; i++) {
    const at = 2 * word + i * 3 * word;
    const terminator = desc.indexOf(0, nameAt);
    const nameEnd = terminator === -1 ? desc.length : terminator;
    entries.push({
      start: readWord(view, at, header),
      end: readWord(view, at + word, header),
      fileOffset: Math.min(readWord(view, at + 2 * word, header) * pageSize, Number.MAX_SAFE_INTEGER),
      name: new TextDecoder().decode(desc.subarray(nameAt, nameEnd)),
    });
    nameAt = nameEnd + 1;
  }
  return entries;
}

function pickExecutable(
  files: MappedFile[],
  entry: number | undefined,
  comm: string | undefined,
): string | undefined {
  if (files.length === 0) return undefined;
  if (entry !== undefined) {
    const hit = files.find((f) => f.start <= entry && entry < f.end);
    if (hit) return hit.name;
  }
  if (comm) {
    const hit = files.find((f) => basename(f.name).startsWith(comm));
    if (hit) return hit.name;
  }
  return undefined;
}

function basename(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? path : path.slice(slash + 1);
}

/** Reads a pointer-sized word (4 or 8 bytes, per the header) at `at`; the caller checks the bounds. */
export function readWord(view: DataView, at: number, header: ElfHeader): number {
  return header.bits === 64 ? readU64(view, at, header.littleEndian) : view.getUint32(at, header.littleEndian);
}

/** Reads a 64-bit value, clamped to `Number.MAX_SAFE_INTEGER`; the caller checks the bounds. */
export function readU64(view: DataView, at: number, le: boolean): number {
  const value = view.getBigUint64(at, le);
  // Offsets past 2^53 cannot be real file positions; clamp so that every
  // bounds check below fails safely instead of wrapping.
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function decodeCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}
