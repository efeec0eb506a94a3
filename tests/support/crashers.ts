/**
 * Small C programs (tests/fixtures/crashers/) built with the machine's gcc
 * and crashed for real, so that signature tests read cores of known crash
 * sites. Cores land in the crashing process's directory through the
 * machine's own `core_pattern` (see `real_core.ts`); nothing here changes it.
 */

import { realCoreSkipReason } from "./real_core.ts";

const SOURCES = new URL("../fixtures/crashers/", import.meta.url).pathname;

/** Why crashers cannot run here (no cores, no gcc), or undefined when they can. */
export const crasherSkipReason: string | undefined = realCoreSkipReason ?? await gccMissing();

async function gccMissing(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return out.success ? undefined : "gcc --version failed";
  } catch {
    return "gcc is not installed (apt-get install -y gcc)";
  }
}

/** A built crasher. */
export interface Crasher {
  /** Path of the binary. */
  path: string;
  /** Source file name, e.g. `null_deref.c`. */
  source: string;
}

/**
 * Builds `source` into `dir` with `-O1 -g`, with or without frame
 * pointers; `name` is the binary's file name.
 */
export async function buildCrasher(
  source: string,
  options: { dir: string; name: string; framePointers: boolean },
): Promise<Crasher> {
  const path = `${options.dir}/${options.name}`;
  const fp = options.framePointers ? "-fno-omit-frame-pointer" : "-fomit-frame-pointer";
  await run("gcc", ["-O1", "-g", fp, "-o", path, `${SOURCES}${source}`]);
  return { path, source };
}

/**
 * Runs `crasher` in `cwd` (created if needed) with cores unlimited; returns
 * the path of its core. Use a fresh `cwd` per crash: a pattern such as
 * `core` names every core the same.
 */
export async function crashIn(crasher: Crasher, cwd: string): Promise<string> {
  await Deno.mkdir(cwd, { recursive: true });
  const before = new Set([...Deno.readDirSync(cwd)].map((e) => e.name));
  await new Deno.Command("bash", {
    args: ["-c", `ulimit -c unlimited; exec "$0"`, crasher.path],
    cwd,
    stdout: "null",
    stderr: "null",
  }).output();
  const cores = [...Deno.readDirSync(cwd)].map((e) => e.name).filter((n) => !before.has(n) && n.startsWith("core"));
  if (cores.length !== 1) throw new Error(`expected one core in ${cwd} from ${crasher.path}, found ${cores.length}`);
  return `${cwd}/${cores[0]}`;
}

/** Runs a command and returns its standard output; throws with its standard error when it fails. */
export async function run(command: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** The GNU build-id `readelf -n` prints for `path`. */
export async function readelfBuildId(path: string): Promise<string> {
  const match = (await run("readelf", ["-n", path])).match(/Build ID: ([0-9a-f]+)/);
  if (!match) throw new Error(`readelf -n ${path} shows no build-id`);
  return match[1];
}

/** What gdb says about a core's crashing frame: the module-relative pc and frame 0's function and line. */
export interface GdbView {
  /** The pc minus the start of the module's first mapping, per gdb's own mapping table. */
  offset: number;
  /** Path of the module holding the pc. */
  module: string;
  /** `crash_here` from `#0  crash_here (p=0x0) at null.c:3`. */
  function: string;
  /** `null.c:3`, when gdb has line information. */
  line?: string;
}

/** Asks gdb for the crash site of `core` of `binary`. */
export async function gdbView(binary: string, core: string): Promise<GdbView> {
  const text = await run("gdb", [
    "-batch",
    "-ex",
    "p/x $pc",
    "-ex",
    "info proc mappings",
    "-ex",
    "frame",
    binary,
    core,
  ]);
  const pc = Number(text.match(/^\$1 = (0x[0-9a-f]+)$/m)![1]);
  const mappings = [...text.matchAll(/^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(\/\S+)$/gm)]
    .map((m) => ({ start: Number(m[1]), end: Number(m[2]), offset: Number(m[3]), path: m[4] }));
  const hit = mappings.find((m) => m.start <= pc && pc < m.end);
  if (!hit) throw new Error(`gdb maps no file at pc ${pc.toString(16)}:\n${text}`);
  const base = Math.min(...mappings.filter((m) => m.path === hit.path && m.offset === 0).map((m) => m.start));
  const frame = text.match(/^#0\s+(?:0x[0-9a-f]+ in )?(\S+) \(.*?\)(?: at (\S+))?/m);
  if (!frame) throw new Error(`gdb shows no frame 0:\n${text}`);
  return { offset: pc - base, module: hit.path, function: frame[1], line: frame[2]?.replace(/^.*\//, "") };
}

/** `addr2line -f` for `offset` of `binary`: the function and `file:line` (file name only). */
export async function addr2line(binary: string, offset: number): Promise<{ function: string; line: string }> {
  const [fn, where] = (await run("addr2line", ["-f", "-e", binary, `0x${offset.toString(16)}`])).trim().split("\n");
  return { function: fn, line: where.replace(/^.*\//, "").replace(/ \(discriminator \d+\)$/, "") };
}
