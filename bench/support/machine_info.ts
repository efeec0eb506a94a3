/**
 * The facts about the machine that every results table carries, so that
 * figures from different runs are only compared when they are comparable.
 *
 * @module
 */

import { loadAverages } from "./proc_stats.ts";

/** The machine a run was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  deno: string;
  v8: string;
  /** The 1, 5 and 15-minute load averages when the run started. */
  loadAtStart: string;
  /** Tools the baselines use, with their versions. */
  tools: Record<string, string>;
  /** The commit measured, and whether src/ had uncommitted changes (other engineers edit it). */
  code: string;
}

/** Reads /proc and asks the tools for their versions. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown";
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const memKiB = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  return {
    cpuModel: model,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    kernel: (await Deno.readTextFile("/proc/sys/kernel/osrelease")).trim(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    loadAtStart: loadAverages(),
    tools: {
      zstd: await toolVersion("zstd", ["-V"], /v(\d+\.\d+\.\d+)/),
      curl: await toolVersion("curl", ["--version"], /curl (\d+\.\d+\.\d+)/),
      wrk: await toolVersion("wrk", ["-v"], /wrk (\S+)/),
      openssl: await toolVersion("openssl", ["version"], /OpenSSL (\S+)/),
    },
    code: await codeVersion(),
  };
}

/** `<commit>`, plus a note when src/ differs from it; read-only git commands that never touch the index. */
async function codeVersion(): Promise<string> {
  const git = async (args: string[]) => {
    const output = await new Deno.Command("git", {
      args: ["--no-optional-locks", ...args],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : "";
  };
  const commit = (await git(["rev-parse", "--short", "HEAD"])) || "unknown commit";
  const changed = await git(["diff", "--shortstat", "HEAD", "--", "src/"]);
  return changed ? `${commit} with uncommitted changes in src/ (${changed})` : commit;
}

async function toolVersion(command: string, args: string[], pattern: RegExp): Promise<string> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    return text.match(pattern)?.[1] ?? "unknown version";
  } catch {
    return "not installed";
  }
}
