/**
 * Two socket options `Deno.serve` has no API for (Deno 2.9.6), set through
 * libc on the webhook's listening sockets:
 *
 * - `TCP_NODELAY`. Linux copies it from a listening socket to the sockets
 *   accepted from it. Without it, `Deno.serve` over TLS sends an answer of
 *   more than about 400 bytes as two records, and the second waits for the
 *   client's delayed ACK: about 44 ms per AdmissionReview with a Go
 *   `net/http` client such as kube-apiserver (bench/findings.md).
 * - A `SO_REUSEPORT` program that hands every new connection to the newest
 *   listener of the port. A certificate swap opens a second server on the
 *   port; without the program the kernel spreads new connections over both
 *   by hash, and those queued on the old one when it closes are reset (12
 *   resets in 50 swaps under connection churn, 0 with it; see
 *   docs/webhook.md).
 *
 * Deno does not say which descriptor a server listens on, so descriptors
 * are probed for a listening TCP socket bound to the port.
 *
 * @module
 */

import { lastErrno, libcLoader } from "../libc_ffi.ts";

// The same numbers on x86_64 and aarch64 (asm-generic).
const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const SO_ATTACH_REUSEPORT_CBPF = 51;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const RLIMIT_NOFILE = 7;
const AF_INET = 2;
const AF_INET6 = 10;
/** Probing stops here even under a larger descriptor limit: about 170 ms of probes on this machine. */
const MAX_PROBED_DESCRIPTORS = 1 << 20;
/** Classic BPF `BPF_RET | BPF_K`: the program's answer is the constant. */
const BPF_RET_K = 0x06;

const libc = libcLoader({
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
});

/** What {@linkcode prepareNewestListener} did; `problem` says what could not be done, if anything. */
export interface ListenerPreparation {
  /** The listening socket's descriptor, when it was found. */
  fd?: number;
  noDelay: boolean;
  steered: boolean;
  problem?: string;
}

/**
 * Prepares the listening socket of this process on `port` that is not
 * prepared yet (the newest, when a certificate swap shares the port): sets
 * `TCP_NODELAY` on it and makes the port's new connections go to it.
 *
 * Call it right after `Deno.serve` returns, with at most one older
 * listener on the port: no connection is accepted before the event loop
 * runs again, so each one inherits the option, and the program picks the
 * second socket of the port's group, which is the newest while there are
 * two (and, once the older one has closed, the kernel's own choice, the
 * only socket left).
 */
export function prepareNewestListener(port: number): ListenerPreparation {
  const symbols = libc();
  if (!symbols) {
    return { noDelay: false, steered: false, problem: "FFI is not available (no --allow-ffi, or no glibc)" };
  }
  const fd = unpreparedListener(symbols, port);
  if (fd === undefined) {
    return { noDelay: false, steered: false, problem: `no new listening socket on port ${port}` };
  }
  if (symbols.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Int32Array([1]), 4) !== 0) {
    const problem = `TCP_NODELAY: errno ${lastErrno(symbols.__errno_location)}`;
    return { fd, noDelay: false, steered: false, problem };
  }
  if (symbols.setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, newestSocketProgram(), 16) !== 0) {
    const problem = `SO_ATTACH_REUSEPORT_CBPF: errno ${lastErrno(symbols.__errno_location)}`;
    return { fd, noDelay: true, steered: false, problem };
  }
  return { fd, noDelay: true, steered: true };
}

/** Whether `fd` is still a socket listening on `port` (false once its server has closed it); undefined without FFI. */
export function isListening(fd: number, port: number): boolean | undefined {
  const symbols = libc();
  if (!symbols) return undefined;
  return intOption(symbols, fd, SOL_SOCKET, SO_ACCEPTCONN) === 1 && boundPort(symbols, fd) === port;
}

type Symbols = NonNullable<ReturnType<typeof libc>>;

/** The first listening TCP socket of this process bound to `port` without `TCP_NODELAY`. */
function unpreparedListener(symbols: Symbols, port: number): number | undefined {
  const limit = new BigUint64Array(2);
  const probed = symbols.getrlimit(RLIMIT_NOFILE, limit) === 0
    ? Math.min(Number(limit[0]), MAX_PROBED_DESCRIPTORS)
    : MAX_PROBED_DESCRIPTORS;
  for (let fd = 0; fd < probed; fd++) {
    if (intOption(symbols, fd, SOL_SOCKET, SO_ACCEPTCONN) !== 1 || boundPort(symbols, fd) !== port) continue;
    if (intOption(symbols, fd, IPPROTO_TCP, TCP_NODELAY) === 0) return fd;
  }
  return undefined;
}

/**
 * One classic BPF instruction, "answer 1": the socket at index 1 of the
 * reuseport group, the second to have joined it. An index past the group's
 * end makes the kernel fall back to its hash. Module-wide, so that it
 * outlives every pointer to it.
 * `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`
 */
const NEWEST_SOCKET_FILTER = new Uint8Array(8);
new DataView(NEWEST_SOCKET_FILTER.buffer).setUint16(0, BPF_RET_K, true);
new DataView(NEWEST_SOCKET_FILTER.buffer).setUint32(4, 1, true);

/**
 * `struct sock_fprog { u16 len; struct sock_filter *filter; }`, the pointer
 * at offset 8. Built at first use: a pointer needs the FFI permission. The
 * kernel copies the filter at `setsockopt`.
 */
function newestSocketProgram(): Uint8Array {
  const program = new Uint8Array(16);
  const view = new DataView(program.buffer);
  view.setUint16(0, 1, true);
  view.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(NEWEST_SOCKET_FILTER))), true);
  return program;
}

/** An integer socket option, or undefined when `fd` is no socket (or not open). */
function intOption(symbols: Symbols, fd: number, level: number, name: number): number | undefined {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  return symbols.getsockopt(fd, level, name, value, length) === 0 ? value[0] : undefined;
}

/** The local port of an IPv4 or IPv6 socket, or undefined. */
function boundPort(symbols: Symbols, fd: number): number | undefined {
  const address = new Uint8Array(128);
  const length = new Uint32Array([address.byteLength]);
  if (symbols.getsockname(fd, address, length) !== 0) return undefined;
  // sa_family is in the machine's byte order: little-endian on x86_64 and aarch64.
  const family = new DataView(address.buffer).getUint16(0, true);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  // sin_port and sin6_port sit at the same offset, in network byte order.
  return new DataView(address.buffer).getUint16(2, false);
}
