/**
 * The crashing thread's registers from a core's first NT_PRSTATUS note: the
 * kernel writes the thread that took the signal first.
 *
 * Pure and bounds-checked: the note comes from an untrusted file.
 *
 * @module
 */

import { type ElfHeader, type ElfNote, readU64 } from "./elf_core.ts";

const NT_PRSTATUS = 1;

/** Where `pr_reg` starts in a 64-bit `elf_prstatus` (after siginfo, pids and four timevals). */
const PR_REG_OFFSET_64 = 112;

/** Register slots in `pr_reg`, by architecture (`user_regs_struct`, `user_pt_regs`). */
const LAYOUTS: Record<string, { pc: number; sp: number; fp: number; lr?: number; count: number }> = {
  // r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ...
  x86_64: { pc: 16, sp: 19, fp: 4, count: 27 },
  // x0..x30, sp, pc, pstate; x29 is the frame pointer, x30 the link register.
  aarch64: { pc: 32, sp: 31, fp: 29, lr: 30, count: 34 },
};

/** The registers an unwinder needs. */
export interface ThreadRegisters {
  /** Program counter (`rip`, `pc`). */
  pc: number;
  /** Stack pointer (`rsp`, `sp`). */
  sp: number;
  /** Frame pointer (`rbp`, `x29`). */
  fp: number;
  /** Link register (`x30`, aarch64 only): the return address of a function that has not saved it yet. */
  lr?: number;
}

/** Result of {@linkcode firstThreadRegisters}. */
export type RegistersResult = { ok: true; registers: ThreadRegisters } | { ok: false; reason: string };

/** Reads the first thread's registers, or says why they cannot be read. */
export function firstThreadRegisters(header: ElfHeader, notes: ElfNote[]): RegistersResult {
  const layout = LAYOUTS[header.machine];
  if (!layout || header.bits !== 64) {
    return { ok: false, reason: `registers of ${header.machine} (${header.bits}-bit) cores are not read` };
  }
  const note = notes.find((n) => n.name === "CORE" && n.type === NT_PRSTATUS);
  if (!note) return { ok: false, reason: "the core has no NT_PRSTATUS note" };
  if (note.desc.length < PR_REG_OFFSET_64 + layout.count * 8) {
    return { ok: false, reason: `NT_PRSTATUS is ${note.desc.length} bytes, too short for ${header.machine} registers` };
  }
  const view = new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.byteLength);
  const slot = (index: number) => readU64(view, PR_REG_OFFSET_64 + index * 8, header.littleEndian);
  const registers: ThreadRegisters = { pc: slot(layout.pc), sp: slot(layout.sp), fp: slot(layout.fp) };
  if (layout.lr !== undefined) registers.lr = slot(layout.lr);
  return { ok: true, registers };
}
