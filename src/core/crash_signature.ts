/**
 * The crash site, the stack as `module+0xoffset` frames, the build-ids of
 * the modules involved, and the crash signature: equal for the same crash
 * site, different otherwise.
 *
 * An offset is the address inside the module's ELF file as `nm`,
 * `addr2line` and `gdb` count it, so it is the same whatever address space
 * layout randomisation chose. The signature is a hash of
 * `executable:signal:` and the top {@linkcode SIGNATURE_FRAMES} frames, the
 * scheme of Ubuntu's apport: the same bug in twelve pods on twelve nodes
 * gives one signature.
 *
 * Pure: the unwound addresses and the modules' headers come from the reader.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { codeAt, type MemoryMap } from "./elf_memory.ts";
import type { ModuleHeaders } from "./elf_module.ts";
import type { FrameMethod, UnwoundStack } from "./elf_stack.ts";

/** Frames that make up the signature. */
const SIGNATURE_FRAMES = 5;

/** Frames kept in the record and shown by `{crash.frames}`. */
const RECORDED_FRAMES = 16;

/** Hex digits of the signature (64 bits: collisions are not a practical concern at crash counts). */
const SIGNATURE_HEX = 16;

/** One frame of the crashing thread's stack. */
export interface CrashFrame {
  /** File name of the module, e.g. `server` or `libc.so.6`; `?` when the address is in no mapped file. */
  module: string;
  /** Offset inside the module's ELF file (its virtual address), or the raw address for module `?`. */
  offset: number;
  /** How the frame was found: `pc`, `frame-pointer`, `link-register` or `scanned`. */
  how: FrameMethod;
  /** Function name, when symbols were found (debuginfod). */
  function?: string;
}

/** A module that appears in the stack, or the executable. */
export interface CrashModule {
  /** File name. */
  name: string;
  /** Path as the process saw it. */
  path: string;
  /** Lower-case hex GNU build-id; absent when the core does not hold the module's first page. */
  buildId?: string;
}

/** What the core tells about where and how the process crashed. */
export interface CrashSite {
  /** Hash of `executable:signal:` and the top frames; absent with {@linkcode CrashSite.noSignature}. */
  signature?: string;
  /** Why there is no signature (not an ELF core, no registers, no stack...). */
  noSignature?: string;
  /** The faulting frame as `module+0xoffset`. */
  site?: string;
  /** `frame-pointer` when the frames were linked, `scanned` when return addresses were searched for. */
  unwind?: "frame-pointer" | "scanned" | "none";
  frames: CrashFrame[];
  /** The executable's build-id. */
  buildId?: string;
  /** The executable and every module in the frames, executable first. */
  modules: CrashModule[];
}

/** Input of {@linkcode crashSite}. */
export interface CrashSiteInput {
  /** Path of the executable (NT_FILE), else its `comm`. */
  executable?: string;
  /** Signal name, e.g. `SIGSEGV`. */
  signal?: string;
  stack: UnwoundStack;
  memory: MemoryMap;
  /** Headers of the modules the reader could read, by path. */
  headers: Map<string, ModuleHeaders>;
}

/** A crash site without a signature, for a core that cannot give one. */
export function noCrashSite(reason: string): CrashSite {
  return { noSignature: reason, frames: [], modules: [] };
}

/** Names the frames, picks the site and computes the signature. */
export function crashSite(input: CrashSiteInput): CrashSite {
  const frames: CrashFrame[] = [];
  const used = new Map<string, CrashModule>();
  const moduleOf = (path: string): CrashModule => {
    let module = used.get(path);
    if (!module) {
      module = { name: baseName(path), path };
      const buildId = input.headers.get(path)?.buildId;
      if (buildId) module.buildId = buildId;
      used.set(path, module);
    }
    return module;
  };
  if (input.executable?.startsWith("/")) moduleOf(input.executable);
  for (const raw of input.stack.frames.slice(0, RECORDED_FRAMES)) {
    const code = codeAt(input.memory, raw.address);
    if (!code) {
      frames.push({ module: "?", offset: raw.address, how: raw.how });
      continue;
    }
    const linkBase = input.headers.get(code.module.path)?.linkBase ?? 0;
    frames.push({
      module: moduleOf(code.module.path).name,
      offset: raw.address - code.module.base + linkBase,
      how: raw.how,
    });
  }
  const modules = [...used.values()];
  const exe = input.executable?.startsWith("/") ? used.get(input.executable) : undefined;
  const site: CrashSite = { frames, modules, unwind: input.stack.method };
  if (exe?.buildId) site.buildId = exe.buildId;
  if (frames.length > 0) site.site = frameText(frames[0]);
  const known = frames.filter((f) => f.module !== "?");
  if (known.length === 0) {
    const pc = frames[0] ? `0x${frames[0].offset.toString(16)}` : "unknown";
    return { ...site, noSignature: `the program counter ${pc} is in no mapped file and no return address was found` };
  }
  site.signature = signatureOf(input.executable, input.signal, frames);
  return site;
}

/** The signature of a crash: hex of SHA-256 over `executable:signal:frame:frame...`. */
export function signatureOf(executable: string | undefined, signal: string | undefined, frames: CrashFrame[]): string {
  const top = frames.slice(0, SIGNATURE_FRAMES).map(frameText);
  const text = `${baseName(executable ?? "?")}:${signal ?? "?"}:${top.join(":")}`;
  return createHash("sha256").update(text).digest("hex").slice(0, SIGNATURE_HEX);
}

/** `server+0x1139`: the frame's module and offset, never its function name (the signature hashes this). */
function frameText(frame: CrashFrame): string {
  return `${frame.module}+0x${frame.offset.toString(16)}`;
}

/**
 * The frames on one line: `server+0x1139 server+0x1148 libc.so.6+0x2724a`,
 * or `crash_here (server+0x1139) middle (server+0x1148) ...` where function
 * names are known.
 */
export function framesText(frames: CrashFrame[]): string {
  return frames.map((f) => f.function ? `${f.function} (${frameText(f)})` : frameText(f)).join(" ");
}

/**
 * `site` with the function names `nameOf` finds for its frames, by the
 * module's build-id. A return address points after its call, which may be
 * the first byte of the next function when the call was the caller's last
 * instruction (a call to `abort`), so frames other than the program counter
 * are looked up one byte earlier, as gdb does. The signature is unchanged.
 */
export function withFunctionNames(
  site: CrashSite,
  nameOf: (buildId: string, offset: number) => string | undefined,
): CrashSite {
  const buildIds = new Map(site.modules.map((m) => [m.name, m.buildId]));
  const frames = site.frames.map((frame) => {
    const buildId = buildIds.get(frame.module);
    if (!buildId || frame.module === "?") return frame;
    const name = nameOf(buildId, frame.how === "pc" ? frame.offset : frame.offset - 1);
    return name ? { ...frame, function: name } : frame;
  });
  return { ...site, frames };
}

function baseName(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? path : path.slice(slash + 1);
}
