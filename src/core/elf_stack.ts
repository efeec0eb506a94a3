/**
 * The crashing thread's stack, unwound from the registers and the stack
 * memory in the core: a frame-pointer walk where the frames are linked,
 * otherwise a scan for words that point into code, which finds return
 * addresses (and sometimes a stale one: such frames are marked `scanned`).
 *
 * Pure and bounded: at most {@linkcode MAX_FRAMES} frames, each read inside
 * the given stack bytes, each frame pointer strictly above the last.
 *
 * @module
 */

import type { ThreadRegisters } from "./elf_registers.ts";

/** Frames returned at most. */
const MAX_FRAMES = 32;

/** Stack bytes from the stack pointer up that the reader asks the core for. */
export const MAX_STACK_BYTES = 128 * 1024;

/** How a frame was found. */
export type FrameMethod = "pc" | "frame-pointer" | "link-register" | "scanned";

/** One frame: an address in code and how it was found. */
export interface RawFrame {
  /** The program counter for frame 0, a return address for the others. */
  address: number;
  how: FrameMethod;
}

/** Stack memory: `bytes` hold the memory from `address` on. */
export interface StackMemory {
  address: number;
  bytes: Uint8Array;
}

/** Options of {@linkcode unwindStack}. */
export interface UnwindOptions {
  /** `x86_64` or `aarch64`. */
  machine: string;
  littleEndian: boolean;
  /** The stack from the stack pointer up; absent when the core does not hold it. */
  stack?: StackMemory;
  /** True when `address` lies in executable memory of a mapped file. */
  isCode: (address: number) => boolean;
}

/** The unwound stack. */
export interface UnwoundStack {
  frames: RawFrame[];
  /** `frame-pointer` when the frames were linked, `scanned` when the stack was searched. */
  method: "frame-pointer" | "scanned" | "none";
}

/** Unwinds the stack of the thread with `registers`. */
export function unwindStack(registers: ThreadRegisters, options: UnwindOptions): UnwoundStack {
  const frames: RawFrame[] = [{ address: registers.pc, how: "pc" }];
  const stack = options.stack;
  if (!stack || stack.bytes.length < 8) return { frames, method: "none" };
  const word = (address: number): number | undefined => {
    const at = address - stack.address;
    if (at < 0 || at % 8 !== 0 || at + 8 > stack.bytes.length) return undefined;
    const view = new DataView(stack.bytes.buffer, stack.bytes.byteOffset + at, 8);
    const value = view.getBigUint64(0, options.littleEndian);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
  };
  const linked = framePointerChain(registers.fp, { word, isCode: options.isCode });
  if (linked.length >= 2) {
    // A function that has not linked its own frame yet (a leaf, or at its
    // first instructions) has its return address in a register or on top of
    // the stack instead: the chain would skip its caller.
    const pending = options.machine === "aarch64" ? registers.lr : word(registers.sp);
    if (pending !== undefined && options.isCode(pending) && pending !== linked[0]) {
      frames.push({ address: pending, how: options.machine === "aarch64" ? "link-register" : "scanned" });
    }
    for (const address of linked) {
      if (frames.length >= MAX_FRAMES) break;
      frames.push({ address, how: "frame-pointer" });
    }
    return { frames, method: "frame-pointer" };
  }
  if (options.machine === "aarch64" && registers.lr !== undefined && options.isCode(registers.lr)) {
    frames.push({ address: registers.lr, how: "link-register" });
  }
  for (let address = stack.address; frames.length < MAX_FRAMES; address += 8) {
    const at = address - stack.address;
    if (at + 8 > stack.bytes.length) break;
    const value = word(address);
    if (value !== undefined && options.isCode(value)) frames.push({ address: value, how: "scanned" });
  }
  return { frames, method: "scanned" };
}

/**
 * Return addresses along the frame-pointer chain: each frame record is
 * `[saved frame pointer, return address]` on both x86_64 and aarch64.
 * Stops at a frame pointer outside the stack, not above the last one, or
 * whose return address is not code.
 */
function framePointerChain(
  start: number,
  reader: { word: (address: number) => number | undefined; isCode: (address: number) => boolean },
): number[] {
  const chain: number[] = [];
  let fp = start;
  while (chain.length < MAX_FRAMES) {
    const saved = reader.word(fp);
    const returnAddress = reader.word(fp + 8);
    if (saved === undefined || returnAddress === undefined || !reader.isCode(returnAddress)) break;
    chain.push(returnAddress);
    if (saved <= fp) break;
    fp = saved;
  }
  return chain;
}
