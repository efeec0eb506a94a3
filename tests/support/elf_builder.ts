/**
 * Small ELF64 little-endian cores built in memory, for fuzzing the note
 * parser and for hostile inputs (corrupt or cut notes). Real cores from
 * crashed processes are in `real_core.ts`; these exist because a test needs
 * to control every byte.
 */

/** What the built core says. */
export interface CoreSpec {
  signal: number;
  pid: number;
  comm: string;
  args: string;
  exe: string;
  /** Bytes of the single PT_LOAD segment. */
  loadBytes: number;
}

function note(type: number, desc: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode("CORE\0");
  const pad = (n: number) => Math.ceil(n / 4) * 4;
  const out = new Uint8Array(12 + pad(name.length) + pad(desc.length));
  const view = new DataView(out.buffer);
  view.setUint32(0, name.length, true);
  view.setUint32(4, desc.length, true);
  view.setUint32(8, type, true);
  out.set(name, 12);
  out.set(desc, 12 + pad(name.length));
  return out;
}

/** Builds a core whose notes carry `spec`; the PT_LOAD segment is zeros. */
export function buildCore(spec: CoreSpec): Uint8Array {
  const entry = 0x401000;
  const prstatus = new Uint8Array(336);
  new DataView(prstatus.buffer).setUint16(12, spec.signal, true);
  new DataView(prstatus.buffer).setInt32(32, spec.pid, true);
  const prpsinfo = new Uint8Array(136);
  new DataView(prpsinfo.buffer).setInt32(24, spec.pid, true);
  prpsinfo.set(new TextEncoder().encode(spec.comm).slice(0, 15), 40);
  prpsinfo.set(new TextEncoder().encode(spec.args).slice(0, 79), 56);
  const siginfo = new Uint8Array(128);
  new DataView(siginfo.buffer).setInt32(0, spec.signal, true);
  const auxv = new Uint8Array(32);
  new DataView(auxv.buffer).setBigUint64(0, 9n, true);
  new DataView(auxv.buffer).setBigUint64(8, BigInt(entry), true);
  const exe = new TextEncoder().encode(`${spec.exe}\0`);
  const file = new Uint8Array(16 + 24 + exe.length);
  const fileView = new DataView(file.buffer);
  fileView.setBigUint64(0, 1n, true);
  fileView.setBigUint64(8, 4096n, true);
  fileView.setBigUint64(16, 0x400000n, true);
  fileView.setBigUint64(24, 0x402000n, true);
  file.set(exe, 40);
  const notes = [
    note(1, prstatus),
    note(3, prpsinfo),
    note(0x53494749, siginfo),
    note(6, auxv),
    note(0x46494c45, file),
  ];
  const notesBytes = notes.reduce((n, b) => n + b.length, 0);
  const phoff = 64;
  const noteOffset = phoff + 2 * 56;
  const loadOffset = Math.ceil((noteOffset + notesBytes) / 4096) * 4096;
  const out = new Uint8Array(loadOffset + spec.loadBytes);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  view.setUint16(16, 4, true); // ET_CORE
  view.setUint16(18, 62, true); // x86_64
  view.setUint32(20, 1, true);
  view.setBigUint64(32, BigInt(phoff), true);
  view.setUint16(52, 64, true);
  view.setUint16(54, 56, true);
  view.setUint16(56, 2, true);
  // PT_NOTE
  view.setUint32(phoff, 4, true);
  view.setBigUint64(phoff + 8, BigInt(noteOffset), true);
  view.setBigUint64(phoff + 32, BigInt(notesBytes), true);
  // PT_LOAD
  view.setUint32(phoff + 56, 1, true);
  view.setBigUint64(phoff + 56 + 8, BigInt(loadOffset), true);
  view.setBigUint64(phoff + 56 + 16, BigInt(0x400000), true);
  view.setBigUint64(phoff + 56 + 32, BigInt(spec.loadBytes), true);
  let at = noteOffset;
  for (const n of notes) {
    out.set(n, at);
    at += n.length;
  }
  return out;
}

/** Where the notes of a {@linkcode buildCore} core start and end. */
export function noteArea(core: Uint8Array): { start: number; end: number } {
  const view = new DataView(core.buffer, core.byteOffset);
  const start = Number(view.getBigUint64(64 + 8, true));
  return { start, end: start + Number(view.getBigUint64(64 + 32, true)) };
}

/** A seeded pseudo-random generator (mulberry32), so that every fuzz run is the same. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
