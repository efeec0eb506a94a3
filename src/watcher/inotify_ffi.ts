/**
 * inotify through libc, by Deno FFI, for the file-event worker.
 *
 * Why not only `Deno.watchFs`: it subscribes to `IN_MODIFY`, so the kernel
 * writing a core page by page wakes the watcher once per page (1.2 to 1.9
 * CPU seconds per GiB, measured in issue 14, spent while the dump itself
 * still runs). The watcher needs only creation, close-after-write, move-in,
 * removal and attribute changes (the canary is touched with `utimes`).
 * inotify also reports a queue overflow (`IN_Q_OVERFLOW`), which
 * `Deno.watchFs` drops silently, and never opens the paths it reports, so
 * a FIFO cannot stall it.
 *
 * Needs `--allow-ffi`; without it `openInotify` returns undefined and the
 * worker falls back to `Deno.watchFs`.
 *
 * @module
 */

import { lastErrno, libcLoader } from "../libc_ffi.ts";

const IN_NONBLOCK = 0o4000;
const IN_CLOEXEC = 0o2000000;
const IN_ATTRIB = 0x4;
const IN_CLOSE_WRITE = 0x8;
const IN_MOVED_FROM = 0x40;
const IN_MOVED_TO = 0x80;
const IN_CREATE = 0x100;
const IN_DELETE = 0x200;
const IN_DELETE_SELF = 0x400;
const IN_Q_OVERFLOW = 0x4000;
const IN_IGNORED = 0x8000;
const IN_ONLYDIR = 0x1000000;
const IN_DONT_FOLLOW = 0x2000000;
const IN_ISDIR = 0x40000000;
const POLLIN = 1;
const EAGAIN = 11;

/** What each watched directory reports: no `IN_MODIFY`, no `IN_OPEN`, no `IN_ACCESS`. */
const WATCH_MASK = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF |
  IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW;

const SYMBOLS = {
  inotify_init1: { parameters: ["i32"], result: "i32" },
  inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  inotify_rm_watch: { parameters: ["i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  // Blocks a thread of Deno's pool, never the worker's event loop.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** One event, in the kinds `Deno.watchFs` uses, so that discovery treats both alike. */
export interface InotifyEvent {
  kind: "create" | "rename" | "access" | "remove" | "modify" | "other";
  path: string;
}

/** An inotify instance watching a tree. */
export interface InotifyTree {
  /** The inotify file descriptor (closing it ends the watch). */
  fd: number;
  /** Waits up to `timeoutMs` for events; returns them (an overflow is one `other` event on the root). */
  next(timeoutMs: number): Promise<InotifyEvent[]>;
  /** Ends the watch. */
  close(): void;
}

const loadLibc = libcLoader(SYMBOLS);

function errno(c: Libc): number {
  return lastErrno(c.__errno_location);
}

/** Closes an inotify descriptor handed out by {@linkcode openInotify} (used after its worker is gone). */
export function closeInotifyFd(fd: number): void {
  loadLibc()?.close(fd);
}

/**
 * Watches `root` and every directory below it (symbolic links are not
 * followed); undefined when FFI or inotify is unavailable. New directories
 * get their watch when their creation is read, before the event is
 * returned, so a caller that walks each new directory misses nothing.
 */
export function openInotify(root: string): InotifyTree | undefined {
  const c = loadLibc();
  if (!c) return undefined;
  const fd = c.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return undefined;
  const paths = new Map<number, string>();
  const byPath = new Map<string, number>();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  const view = new DataView(buffer.buffer);
  const pollFd = new Uint8Array(8);
  new DataView(pollFd.buffer).setInt32(0, fd, true);
  new DataView(pollFd.buffer).setInt16(4, POLLIN, true);

  function add(dir: string): boolean {
    const wd = c!.inotify_add_watch(fd, encoder.encode(dir + "\0"), WATCH_MASK);
    if (wd < 0) return false;
    paths.set(wd, dir);
    byPath.set(dir, wd);
    return true;
  }

  function addTree(dir: string): void {
    if (!add(dir)) return;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory) addTree(`${dir}/${entry.name}`);
  }

  function dropTree(dir: string): void {
    for (const [path, wd] of byPath) {
      if (path !== dir && !path.startsWith(dir + "/")) continue;
      c!.inotify_rm_watch(fd, wd);
      byPath.delete(path);
      paths.delete(wd);
    }
  }

  addTree(root);
  if (!byPath.has(root)) {
    c.close(fd);
    return undefined;
  }

  function parse(length: number): InotifyEvent[] {
    const events: InotifyEvent[] = [];
    for (let at = 0; at + 16 <= length;) {
      const wd = view.getInt32(at, true);
      const mask = view.getUint32(at + 4, true);
      const nameLength = view.getUint32(at + 12, true);
      const raw = buffer.subarray(at + 16, at + 16 + nameLength);
      const end = raw.indexOf(0);
      const name = decoder.decode(end < 0 ? raw : raw.subarray(0, end));
      at += 16 + nameLength;
      if (mask & IN_Q_OVERFLOW) {
        events.push({ kind: "other", path: root });
        continue;
      }
      const dir = paths.get(wd);
      if (dir === undefined) continue;
      if (mask & IN_IGNORED) {
        paths.delete(wd);
        if (byPath.get(dir) === wd) byPath.delete(dir);
        continue;
      }
      if (mask & IN_DELETE_SELF) {
        events.push({ kind: "remove", path: dir });
        continue;
      }
      const path = name ? `${dir}/${name}` : dir;
      if (mask & IN_ISDIR) {
        if (mask & (IN_CREATE | IN_MOVED_TO)) addTree(path);
        if (mask & IN_MOVED_FROM) dropTree(path);
      }
      if (mask & IN_CREATE) events.push({ kind: "create", path });
      else if (mask & IN_MOVED_TO) events.push({ kind: "rename", path });
      else if (mask & IN_CLOSE_WRITE) events.push({ kind: "access", path });
      else if (mask & (IN_DELETE | IN_MOVED_FROM)) events.push({ kind: "remove", path });
      else if (mask & IN_ATTRIB) events.push({ kind: "modify", path });
    }
    return events;
  }

  let closed = false;
  return {
    fd,
    async next(timeoutMs: number): Promise<InotifyEvent[]> {
      if (closed) throw new Error("the inotify watch is closed");
      const ready = await c.poll(pollFd, 1n, timeoutMs);
      if (closed) throw new Error("the inotify watch is closed");
      if (ready < 0) {
        const code = errno(c);
        if (code === 4) return []; // EINTR
        throw new Error(`poll on inotify failed: errno ${code}`);
      }
      const events: InotifyEvent[] = [];
      for (;;) {
        const length = Number(c.read(fd, buffer, BigInt(buffer.length)));
        if (length < 0) {
          const code = errno(c);
          if (code === EAGAIN || code === 4) break;
          throw new Error(`read from inotify failed: errno ${code}`);
        }
        if (length === 0) break;
        events.push(...parse(length));
      }
      return events;
    },
    close(): void {
      if (closed) return;
      closed = true;
      c.close(fd);
    },
  };
}
