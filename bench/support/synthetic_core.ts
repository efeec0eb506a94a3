/**
 * Synthetic ELF cores shaped like the ones the Linux kernel writes for an
 * x86_64 process: an ELF header, a PT_NOTE segment with the notes the
 * kernel emits (NT_PRSTATUS, NT_FPREGSET per thread; NT_PRPSINFO,
 * NT_SIGINFO, NT_AUXV, NT_FILE once), then PT_LOAD segments for the
 * mappings. Anonymous memory is mostly zero pages, which the kernel skips
 * with a seek (so the file is sparse), with runs of data pages between
 * them; the data is pseudo-random, i.e. incompressible, so the stored size
 * is close to the number of data pages.
 *
 * The file is written the way the kernel writes a core: created with
 * O_EXCL and mode 0600, written front to back, holes seeked over, the
 * final size set last, then closed. The close is what the watcher waits
 * for, so the caller gets the wall-clock time right after it.
 *
 * Content is a pure function of the options (a seeded generator), so the
 * same core can be written twice, once for CoreDog and once for the
 * baseline, and the SHA-256 returned here checks what CoreDog recorded.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Page size of the simulated process. */
export const PAGE_BYTES = 4096;
/** Largest single write; the kernel writes page by page, but inotify folds repeated modify events anyway. */
const WRITE_CHUNK_BYTES = 1024 * 1024;
/** Largest anonymous segment, like a glibc heap arena or a Go heap arena. */
const MAX_ANON_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Mean length, in pages, of a run of data pages. */
const MEAN_DATA_RUN_PAGES = 16;

const ET_CORE = 4;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PT_NOTE = 4;
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;
const NT_PRSTATUS = 1;
const NT_FPREGSET = 2;
const NT_PRPSINFO = 3;
const NT_AUXV = 6;
const NT_SIGINFO = 0x53494749;
const NT_FILE = 0x46494c45;
const PRSTATUS_BYTES = 336;
const FPREGSET_BYTES = 512;
const PRPSINFO_BYTES = 136;
const SIGINFO_BYTES = 128;

/** Options of {@linkcode writeSyntheticCore}. */
export interface SyntheticCoreOptions {
  /** Size of the finished file; rounded up to whole pages. */
  sizeBytes: number;
  /** Fraction of anonymous pages that hold (random) data; the rest are holes. */
  dataFraction: number;
  /** Seed of the content; the same options give the same bytes. */
  seed: number;
  /** Process id in the notes. */
  pid?: number;
  /** `comm`, at most 15 bytes. */
  comm?: string;
  /** Command line in NT_PRPSINFO (first 80 bytes are kept). */
  args?: string;
  /** Signal number; 11 (SIGSEGV) by default. */
  signal?: number;
  /** Threads, each with an NT_PRSTATUS and a stack segment; 4 by default. */
  threads?: number;
}

/** What was written. */
export interface SyntheticCore {
  path: string;
  sizeBytes: number;
  /** Bytes of data pages actually on disk (the rest are holes). */
  dataBytes: number;
  /** Hex SHA-256 of the whole file as a reader sees it (holes read as zeros). */
  sha256: string;
  /** `Date.now()` right after the file was closed. */
  closedAt: number;
}

interface Segment {
  vaddr: number;
  memBytes: number;
  fileBytes: number;
  flags: number;
  /** Anonymous memory gets data and zero pages; a file head is one page of ELF header. */
  kind: "anon" | "file-head";
  offset: number;
}

interface Mapping {
  start: number;
  end: number;
  fileOffsetPages: number;
  name: string;
}

/** Writes a synthetic core at `path` (which must not exist) and closes it. */
export async function writeSyntheticCore(path: string, options: SyntheticCoreOptions): Promise<SyntheticCore> {
  const random = seededRandom(options.seed);
  const comm = (options.comm ?? "server").slice(0, 15);
  const threads = Math.max(1, options.threads ?? 4);
  const layout = planLayout(options, comm, threads);
  const notes = buildNotes(layout.mappings, {
    pid: options.pid ?? 42,
    comm,
    args: options.args ?? `/usr/local/bin/${comm} --config /etc/${comm}/config.yaml`,
    signal: options.signal ?? 11,
    threads,
    entry: layout.entry,
  });
  const headers = buildHeaders(layout.segments, notes.length);
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  let position = 0;
  let dataBytes = 0;
  const zeros = new Uint8Array(WRITE_CHUNK_BYTES);
  try {
    const write = async (bytes: Uint8Array) => {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      hash.update(bytes);
      position += bytes.length;
    };
    const skip = async (length: number) => {
      // A hole: the kernel seeks instead of writing zeros; a reader still sees zeros.
      for (let left = length; left > 0; left -= WRITE_CHUNK_BYTES) {
        hash.update(zeros.subarray(0, Math.min(left, WRITE_CHUNK_BYTES)));
      }
      position += length;
      await file.seek(position, Deno.SeekMode.Start);
    };
    await write(headers);
    await write(notes);
    await skip(layout.segments[0].offset - position);
    for (const segment of layout.segments) {
      if (segment.kind === "file-head") {
        await write(elfHeadPage(random));
        dataBytes += PAGE_BYTES;
        continue;
      }
      for (const run of pageRuns(segment.fileBytes / PAGE_BYTES, options.dataFraction, random)) {
        const length = run.pages * PAGE_BYTES;
        if (!run.data) {
          await skip(length);
          continue;
        }
        for (let left = length; left > 0; left -= WRITE_CHUNK_BYTES) {
          await write(random.bytes(Math.min(left, WRITE_CHUNK_BYTES)));
        }
        dataBytes += length;
      }
    }
    // The kernel sets the size last, so that a trailing hole still counts.
    await file.truncate(position);
  } finally {
    file.close();
  }
  const closedAt = Date.now();
  return { path, sizeBytes: position, dataBytes, sha256: hash.digest("hex"), closedAt };
}

/** The layout a core of `options.sizeBytes` gets: small file mappings, stacks, then heap arenas. */
function planLayout(
  options: SyntheticCoreOptions,
  comm: string,
  threads: number,
): { segments: Segment[]; mappings: Mapping[]; entry: number } {
  const target = Math.ceil(options.sizeBytes / PAGE_BYTES) * PAGE_BYTES;
  const mappings: Mapping[] = [];
  const specs: Omit<Segment, "offset">[] = [];
  const addFile = (name: string, start: number, textBytes: number, dataBytes: number) => {
    mappings.push({ start, end: start + textBytes, fileOffsetPages: 0, name });
    specs.push({ vaddr: start, memBytes: textBytes, fileBytes: PAGE_BYTES, flags: PF_R | PF_X, kind: "file-head" });
    const dataStart = start + textBytes;
    mappings.push({ start: dataStart, end: dataStart + dataBytes, fileOffsetPages: textBytes / PAGE_BYTES, name });
    specs.push({ vaddr: dataStart, memBytes: dataBytes, fileBytes: dataBytes, flags: PF_R | PF_W, kind: "anon" });
  };
  const exeStart = 0x400000;
  addFile(`/usr/local/bin/${comm}`, exeStart, 2 * 1024 * 1024, 64 * 1024);
  addFile("/usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f3a_1c00_0000, 1536 * 1024, 32 * 1024);
  addFile("/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", 0x7f3a_1c40_0000, 1024 * 1024, 48 * 1024);
  addFile("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0x7f3a_1c80_0000, 160 * 1024, 8 * 1024);
  const headerBytes = 64 + 56 * 64; // room for the program headers, whatever their count
  const fixedBytes = specs.reduce((sum, s) => sum + s.fileBytes, 0) + pageAlign(headerBytes + 64 * 1024);
  let anonLeft = Math.max(PAGE_BYTES, target - fixedBytes);
  // Thread stacks first (the kernel dumps the whole stack mapping), then heap arenas.
  const stackBytes = Math.min(8 * 1024 * 1024, pageAlign(Math.floor(anonLeft / (threads + 1))));
  let stackTop = 0x7ffc_0000_0000;
  for (let t = 0; t < threads && anonLeft > PAGE_BYTES; t++) {
    const bytes = Math.min(stackBytes, anonLeft - PAGE_BYTES);
    stackTop -= bytes + 0x100000;
    specs.push({ vaddr: stackTop, memBytes: bytes, fileBytes: bytes, flags: PF_R | PF_W, kind: "anon" });
    anonLeft -= bytes;
  }
  let heap = 0x00c0_0000_0000;
  while (anonLeft > 0) {
    const bytes = Math.min(MAX_ANON_SEGMENT_BYTES, anonLeft);
    specs.push({ vaddr: heap, memBytes: bytes, fileBytes: bytes, flags: PF_R | PF_W, kind: "anon" });
    heap += bytes + 0x4000000;
    anonLeft -= bytes;
  }
  // Exactly the requested size: the first segment starts where the rest fits.
  const loadBytes = specs.reduce((sum, s) => sum + s.fileBytes, 0);
  let offset = Math.max(pageAlign(headerBytes + 64 * 1024), target - loadBytes);
  const segments: Segment[] = specs.map((spec) => {
    const segment = { ...spec, offset };
    offset += spec.fileBytes;
    return segment;
  });
  return { segments, mappings, entry: exeStart + 0x1040 };
}

interface NoteFacts {
  pid: number;
  comm: string;
  args: string;
  signal: number;
  threads: number;
  entry: number;
}

/** The notes, in the kernel's order: each thread's registers, the dumping thread first, then the process notes. */
function buildNotes(mappings: Mapping[], facts: NoteFacts): Uint8Array {
  const notes: Uint8Array[] = [];
  for (let t = 0; t < facts.threads; t++) {
    notes.push(note("CORE", NT_PRSTATUS, prstatus(facts, facts.pid + t, t === 0 ? facts.signal : 0)));
    notes.push(note("CORE", NT_FPREGSET, new Uint8Array(FPREGSET_BYTES)));
    if (t === 0) {
      notes.push(note("CORE", NT_PRPSINFO, prpsinfo(facts)));
      notes.push(note("CORE", NT_SIGINFO, siginfo(facts.signal)));
      notes.push(note("CORE", NT_AUXV, auxv(facts.entry)));
      notes.push(note("CORE", NT_FILE, fileNote(mappings)));
    }
  }
  return concat(notes);
}

function prstatus(facts: NoteFacts, pid: number, signal: number): Uint8Array {
  const bytes = new Uint8Array(PRSTATUS_BYTES);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, signal, true); // pr_info.si_signo
  view.setUint16(12, signal, true); // pr_cursig
  view.setInt32(32, pid, true); // pr_pid
  view.setInt32(36, 1, true); // pr_ppid
  view.setInt32(40, facts.pid, true); // pr_pgrp
  view.setInt32(44, facts.pid, true); // pr_sid
  view.setBigUint64(112 + 16 * 8, BigInt(facts.entry + 0x2a), true); // pr_reg.rip
  view.setInt32(328, 1, true); // pr_fpvalid
  return bytes;
}

function prpsinfo(facts: NoteFacts): Uint8Array {
  const bytes = new Uint8Array(PRPSINFO_BYTES);
  const view = new DataView(bytes.buffer);
  bytes[1] = "R".charCodeAt(0); // pr_sname
  view.setUint32(16, 1000, true); // pr_uid
  view.setUint32(20, 1000, true); // pr_gid
  view.setInt32(24, facts.pid, true);
  view.setInt32(28, 1, true);
  bytes.set(new TextEncoder().encode(facts.comm).subarray(0, 15), 40);
  bytes.set(new TextEncoder().encode(facts.args).subarray(0, 79), 56);
  return bytes;
}

function siginfo(signal: number): Uint8Array {
  const bytes = new Uint8Array(SIGINFO_BYTES);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, signal, true); // si_signo
  view.setInt32(8, 1, true); // si_code SEGV_MAPERR
  view.setBigUint64(16, 0x10n, true); // si_addr: a near-null dereference
  return bytes;
}

function auxv(entry: number): Uint8Array {
  const pairs: [number, number][] = [
    [33, 0x7ffc_0001_0000], // AT_SYSINFO_EHDR
    [16, 0x178bfbff], // AT_HWCAP
    [6, PAGE_BYTES], // AT_PAGESZ
    [3, 0x400040], // AT_PHDR
    [4, 56], // AT_PHENT
    [5, 13], // AT_PHNUM
    [7, 0x7f3a_1c80_0000], // AT_BASE
    [9, entry], // AT_ENTRY
    [11, 1000], // AT_UID
    [23, 0], // AT_SECURE
    [0, 0], // AT_NULL
  ];
  const bytes = new Uint8Array(pairs.length * 16);
  const view = new DataView(bytes.buffer);
  pairs.forEach(([key, value], i) => {
    view.setBigUint64(i * 16, BigInt(key), true);
    view.setBigUint64(i * 16 + 8, BigInt(value), true);
  });
  return bytes;
}

function fileNote(mappings: Mapping[]): Uint8Array {
  const table = new Uint8Array(16 + mappings.length * 24);
  const view = new DataView(table.buffer);
  view.setBigUint64(0, BigInt(mappings.length), true);
  view.setBigUint64(8, BigInt(PAGE_BYTES), true);
  mappings.forEach((m, i) => {
    view.setBigUint64(16 + i * 24, BigInt(m.start), true);
    view.setBigUint64(16 + i * 24 + 8, BigInt(m.end), true);
    view.setBigUint64(16 + i * 24 + 16, BigInt(m.fileOffsetPages), true);
  });
  const names = new TextEncoder().encode(mappings.map((m) => `${m.name}\0`).join(""));
  return concat([table, names]);
}

function note(name: string, type: number, desc: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(`${name}\0`);
  const bytes = new Uint8Array(12 + align4(nameBytes.length) + align4(desc.length));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, nameBytes.length, true);
  view.setUint32(4, desc.length, true);
  view.setUint32(8, type, true);
  bytes.set(nameBytes, 12);
  bytes.set(desc, 12 + align4(nameBytes.length));
  return bytes;
}

/** ELF header plus program headers: PT_NOTE right after them, then the PT_LOADs. */
function buildHeaders(segments: Segment[], notesBytes: number): Uint8Array {
  const phnum = segments.length + 1;
  const bytes = new Uint8Array(64 + 56 * phnum);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELFCLASS64, little-endian, EV_CURRENT, SYSV
  view.setUint16(16, ET_CORE, true);
  view.setUint16(18, EM_X86_64, true);
  view.setUint32(20, 1, true);
  view.setBigUint64(32, 64n, true); // e_phoff
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, phnum, true);
  const program = (
    index: number,
    type: number,
    flags: number,
    offset: number,
    vaddr: number,
    file: number,
    mem: number,
  ) => {
    const at = 64 + index * 56;
    view.setUint32(at, type, true);
    view.setUint32(at + 4, flags, true);
    view.setBigUint64(at + 8, BigInt(offset), true);
    view.setBigUint64(at + 16, BigInt(vaddr), true);
    view.setBigUint64(at + 32, BigInt(file), true);
    view.setBigUint64(at + 40, BigInt(mem), true);
    view.setBigUint64(at + 48, BigInt(type === PT_LOAD ? PAGE_BYTES : 0), true);
  };
  program(0, PT_NOTE, 0, bytes.length, 0, notesBytes, 0);
  segments.forEach((s, i) => program(i + 1, PT_LOAD, s.flags, s.offset, s.vaddr, s.fileBytes, s.memBytes));
  return bytes;
}

/** The first page of a mapped ELF file, which the default coredump_filter keeps. */
function elfHeadPage(random: SeededRandom): Uint8Array {
  const page = new Uint8Array(PAGE_BYTES);
  page.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  page[16] = 3; // ET_DYN
  page[18] = EM_X86_64;
  page.set(random.bytes(1024), 64);
  return page;
}

/** Alternating runs of zero and data pages, `dataFraction` of them data on average. */
function* pageRuns(
  pages: number,
  dataFraction: number,
  random: SeededRandom,
): Generator<{ data: boolean; pages: number }> {
  const fraction = Math.min(1, Math.max(0, dataFraction));
  if (fraction === 0 || fraction === 1) {
    yield { data: fraction === 1, pages };
    return;
  }
  const meanZeroRun = (MEAN_DATA_RUN_PAGES * (1 - fraction)) / fraction;
  let left = pages;
  let data = random.next() < fraction;
  while (left > 0) {
    const mean = data ? MEAN_DATA_RUN_PAGES : meanZeroRun;
    const run = Math.min(left, 1 + Math.floor(-Math.log(1 - random.next()) * (mean - 1)));
    yield { data, pages: run };
    left -= run;
    data = !data;
  }
}

interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** `length` pseudo-random bytes. */
  bytes(length: number): Uint8Array;
}

/** xorshift128: fast, deterministic, and as incompressible as real random data for zstd. */
function seededRandom(seed: number): SeededRandom {
  const state = new Uint32Array([seed >>> 0 || 1, 0x9e3779b9, 0x243f6a88, 0xb7e15162]);
  const step = () => {
    let t = state[3];
    const s = state[0];
    state[3] = state[2];
    state[2] = state[1];
    state[1] = s;
    t ^= t << 11;
    t ^= t >>> 8;
    state[0] = t ^ s ^ (s >>> 19);
    return state[0];
  };
  for (let i = 0; i < 16; i++) step();
  return {
    next: () => step() / 0x1_0000_0000,
    bytes(length: number): Uint8Array {
      const words = new Uint32Array(Math.ceil(length / 4));
      for (let i = 0; i < words.length; i++) words[i] = step();
      return new Uint8Array(words.buffer, 0, length);
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function pageAlign(n: number): number {
  return Math.ceil(n / PAGE_BYTES) * PAGE_BYTES;
}
