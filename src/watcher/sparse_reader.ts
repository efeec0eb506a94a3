/**
 * Reads a core by its data regions only. Cores are sparse (the kernel
 * seeks over zero pages; a 4 GiB core can hold 40 MiB of data), and
 * reading a hole still costs the kernel a page of zeros per page, so the
 * reader asks `lseek(SEEK_DATA / SEEK_HOLE)` where the data is and hands
 * out holes as lengths, never as bytes read. Reads are `pread` calls on a
 * thread of Deno's pool into buffers the caller gives back, so nothing is
 * allocated per chunk.
 *
 * Needs FFI (`--allow-ffi`); {@linkcode openSparseReader} returns
 * undefined without it, and the caller reads the whole file instead.
 *
 * @module
 */

import { lastErrno, libcLoader } from "../libc_ffi.ts";

const O_RDONLY = 0;
// Never waits: a FIFO renamed over the core after it was checked would otherwise block this synchronous open, and
// with it the watcher's event loop, until someone writes to it. The dev/ino check below then refuses it.
const O_NONBLOCK = 0o4000;
// The one flag whose value differs between the two architectures CoreDog ships (asm-generic vs x86).
const O_NOFOLLOW = Deno.build.arch === "aarch64" ? 0o100000 : 0o400000;
const O_CLOEXEC = 0o2000000;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  // On a thread of Deno's pool: the event loop keeps running while the disk reads.
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize", nonblocking: true },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const loadLibc = libcLoader(SYMBOLS);

function errno(c: Libc): number {
  return lastErrno(c.__errno_location);
}

/** A piece of the file: bytes read into the caller's buffer, or a run of zeros that was not read. */
export type FileSpan = { kind: "data"; bytes: Uint8Array } | { kind: "hole"; length: number };

/** An open file read by data regions. */
export interface SparseReader {
  /**
   * The file from offset 0 to `size` in order: data regions are read into
   * the buffers `buffer` hands out (at most a buffer's length at a time; the
   * span is a view of it), holes are returned as lengths.
   */
  spans(size: number, buffer: () => Promise<Uint8Array>): AsyncGenerator<FileSpan>;
  close(): void;
}

/**
 * Opens `path` (without following a symbolic link) for reading by data
 * regions; undefined when FFI is unavailable or the file is not the one
 * identified by `dev` and `ino` (it was replaced since it was checked).
 */
export function openSparseReader(path: string, identity: { dev: number; ino: number }): SparseReader | undefined {
  const c = loadLibc();
  if (!c) return undefined;
  const fd = c.open(new TextEncoder().encode(path + "\0"), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return undefined;
  // struct stat: st_dev at 0 and st_ino at 8 on x86_64 and aarch64 alike; st_mode at 24 on x86_64, 16 on aarch64.
  // The type is checked too: a FIFO made where the core was can get the core's freed inode number.
  const stat = new BigUint64Array(32);
  const mode = c.fstat(fd, stat) === 0
    ? new DataView(stat.buffer).getUint32(Deno.build.arch === "aarch64" ? 16 : 24, true)
    : 0;
  const isRegular = (mode & S_IFMT) === S_IFREG;
  if (!isRegular || Number(stat[0]) !== identity.dev || Number(stat[1]) !== identity.ino) {
    c.close(fd);
    return undefined;
  }
  let closed = false;

  /** Next data offset at or after `from`, or `size` when only a hole (or nothing) is left. */
  function nextData(from: number, size: number): number {
    const at = Number(c!.lseek(fd, BigInt(from), SEEK_DATA));
    if (at >= 0) return Math.min(at, size);
    if (errno(c!) === ENXIO) return size;
    // A file system without SEEK_DATA: all of it is data.
    return from;
  }

  function nextHole(from: number, size: number): number {
    const at = Number(c!.lseek(fd, BigInt(from), SEEK_HOLE));
    return at >= 0 ? Math.min(at, size) : size;
  }

  async function* spans(size: number, buffer: () => Promise<Uint8Array>): AsyncGenerator<FileSpan> {
    let offset = 0;
    while (offset < size) {
      const start = nextData(offset, size);
      if (start > offset) {
        yield { kind: "hole", length: start - offset };
        offset = start;
        continue;
      }
      const end = nextHole(offset, size);
      while (offset < end) {
        if (closed) throw new Error("the file was closed while being read");
        const target = await buffer();
        const want = Math.min(target.length, end - offset);
        const got = Number(await c!.pread(fd, target, BigInt(want), BigInt(offset)));
        // errno belongs to the pool thread that ran the read, so only the failure is known here.
        if (got < 0) throw new Error(`read of ${path} at ${offset} failed`);
        if (got === 0) throw new Error(`${path} ended at ${offset}, before the ${size} bytes it had; the file changed`);
        offset += got;
        yield { kind: "data", bytes: target.subarray(0, got) };
      }
    }
  }

  return {
    spans,
    close(): void {
      if (closed) return;
      closed = true;
      c.close(fd);
    },
  };
}
