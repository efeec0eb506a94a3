/**
 * Real cores from really crashed processes for the benchmarks: a small C
 * program (`crash_fill.c`, compiled with gcc at bench time) fills memory,
 * then dies of SIGSEGV, and the kernel writes its core page by page into
 * the process's working directory (the machine's `core_pattern` must write
 * into the cwd, as `core` does; it is never changed here).
 *
 * @module
 */

import { join } from "node:path";
import { machineCorePattern } from "../../src/dev/core_pattern.ts";
import { openInotify } from "../../src/watcher/inotify_ffi.ts";

const SOURCE = new URL("./crash_fill.c", import.meta.url).pathname;

/** Why real cores cannot be made here, or undefined when they can. */
export async function realCoreProblem(): Promise<string | undefined> {
  const verdict = await machineCorePattern();
  if (!verdict.ok) return `core_pattern does not write into the crashing process's directory: ${verdict.why}`;
  const gcc = await new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" }).output()
    .catch(() => undefined);
  return gcc?.success ? undefined : "gcc is not installed (apt-get install gcc)";
}

/** Compiles `crash_fill.c` into `dir`; returns the executable's path. */
export async function buildCrashFill(dir: string): Promise<string> {
  const binary = join(dir, "crash_fill");
  const output = await new Deno.Command("gcc", { args: ["-O2", "-o", binary, SOURCE], stderr: "piped" }).output();
  if (!output.success) throw new Error(`gcc failed: ${new TextDecoder().decode(output.stderr)}`);
  return binary;
}

/** Shape of a real core. */
export interface RealCoreShape {
  /** MiB the process touches: half zero pages, a quarter structs, a quarter random. */
  dataMiB: number;
  /** MiB mapped and left untouched (holes in the core). */
  reservedMiB: number;
  seed: number;
}

/** One crash and its core. */
export interface RealCrash {
  path: string;
  sizeBytes: number;
  /** Bytes allocated on disk (the data regions); 0 (like `sizeBytes`) when the core was gone before it was looked at. */
  diskBytes: number;
  /** performance.timeOrigin-based ms when the process said its memory was ready (the dump starts right after). */
  dumpStartedAt: number;
  /**
   * ms when the kernel closed the core (its IN_CLOSE_WRITE, read here with
   * inotify): a process with gigabytes of memory takes a while to be reaped
   * after its core is closed, and a watcher is already storing it by then.
   * The reap time when inotify is unavailable.
   */
  closedAt: number;
  /** ms when the process was reaped. */
  reapedAt: number;
}

/**
 * Runs the program in `dir` and waits for it to die; `onDumpStart` runs
 * when its memory is ready and it is about to crash (for figures taken
 * before the kernel writes the core).
 */
export async function crashWithCore(
  binary: string,
  dir: string,
  options: RealCoreShape & { onDumpStart?: () => void; onClose?: () => void },
): Promise<RealCrash> {
  await Deno.mkdir(dir, { recursive: true });
  const events = openInotify(dir);
  let closedAt: number | undefined;
  let watching = true;
  const closeSeen = (async () => {
    while (events && watching && closedAt === undefined) {
      for (const event of await events.next(100)) {
        if (event.kind === "access" && event.path.slice(dir.length + 1).startsWith("core")) {
          closedAt = Date.now();
          options.onClose?.();
        }
      }
    }
  })();
  const before = new Set([...Deno.readDirSync(dir)].map((e) => e.name));
  const child = new Deno.Command("bash", {
    // RLIMIT_CORE is lifted by the program too; ulimit covers a hard limit bash may raise and it may not.
    args: [
      "-c",
      `ulimit -c unlimited; exec "$0" "$@"`,
      binary,
      String(options.dataMiB),
      String(options.reservedMiB),
      String(options.seed),
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  let dumpStartedAt = 0;
  while (!text.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  dumpStartedAt = Date.now();
  options.onDumpStart?.();
  reader.releaseLock();
  await child.stdout.cancel();
  const status = await child.status;
  const reapedAt = Date.now();
  await Promise.race([closeSeen, new Promise((r) => setTimeout(r, 500))]);
  watching = false;
  await closeSeen.catch(() => {});
  events?.close();
  if (closedAt === undefined) {
    closedAt = reapedAt;
    options.onClose?.();
  }
  const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  if (status.signal !== "SIGSEGV") {
    throw new Error(`crash_fill did not die of SIGSEGV (${status.signal ?? status.code}): ${stderr}`);
  }
  const made = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !before.has(n) && n.startsWith("core"));
  if (made.length !== 1) throw new Error(`expected one core in ${dir}, found ${made.join(", ") || "none"}`);
  const path = join(dir, made[0]);
  let stat: Deno.FileInfo | undefined;
  try {
    stat = Deno.statSync(path);
  } catch {
    // A watcher already stored and deleted it (a small core): its record tells the size.
  }
  return { path, sizeBytes: stat?.size ?? 0, diskBytes: (stat?.blocks ?? 0) * 512, dumpStartedAt, closedAt, reapedAt };
}
