/**
 * What /proc says about a process and the machine: resident memory, its
 * peak, CPU time, and how busy the whole machine was, so that a benchmark
 * can tell its own processes' work from other engineers' test runs on the
 * same two cores.
 *
 * @module
 */

/** Clock ticks per second of /proc/<pid>/stat and /proc/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Memory of a process, in bytes. */
export interface MemoryStats {
  /** VmRSS: resident now. */
  rssBytes: number;
  /** VmHWM: the peak resident size since start or since {@linkcode resetPeakRss}. */
  peakRssBytes: number;
}

/** Reads VmRSS and VmHWM of `pid`. */
export function memoryStats(pid: number): MemoryStats {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (key: string) => {
    const match = status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rssBytes: kib("VmRSS"), peakRssBytes: kib("VmHWM") };
}

/**
 * Resets VmHWM of `pid` to its current RSS (`echo 5 > /proc/<pid>/clear_refs`,
 * Linux 4.0+), so that one long-running watcher can report the peak of each
 * phase. Returns false when the kernel or permissions do not allow it.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds (user + system, all threads) used by `pid` so far. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name may contain spaces and parentheses; fields restart after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Busy and total CPU time of the whole machine, seconds summed over cores. */
export interface MachineCpu {
  busySeconds: number;
  totalSeconds: number;
}

/** Reads the aggregate `cpu` line of /proc/stat. */
export function machineCpu(): MachineCpu {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values;
  const busy = user + nice + system + irq + softirq + steal;
  return { busySeconds: busy / TICKS_PER_SECOND, totalSeconds: (busy + idle + iowait) / TICKS_PER_SECOND };
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

/** The 1, 5 and 15-minute load averages as /proc/loadavg writes them, e.g. `"0.52 0.61 0.70"`, for a results table. */
export function loadAverages(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

/** CPU use during a measured interval, in cores (1.0 = one core busy all the time). */
export interface CpuShare {
  /** Everything on the machine. */
  machineCores: number;
  /** The processes the benchmark knows about (its own, the servers it started, the tools it ran). */
  oursCores: number;
  /** The rest: other engineers' work. Above ~0.2 the figures are likely disturbed. */
  foreignCores: number;
}

/** A running account of machine CPU against the benchmark's own processes. */
export interface CpuWatch {
  /** Ends the interval; `extraSeconds` is CPU of our processes that have exited (e.g. from `times`). */
  stop(extraSeconds?: number): CpuShare;
}

/** Starts accounting CPU for `pids` (the benchmark process itself is always included). */
export function watchCpu(pids: number[]): CpuWatch {
  const all = [...new Set([Deno.pid, ...pids])];
  const startedAt = performance.now();
  const machine0 = machineCpu();
  const ours0 = all.map(cpuSecondsOrZero);
  return {
    stop(extraSeconds = 0): CpuShare {
      const wall = (performance.now() - startedAt) / 1000;
      const machine1 = machineCpu();
      const ours = all.map(cpuSecondsOrZero).reduce((sum, v, i) => sum + Math.max(0, v - ours0[i]), 0) +
        extraSeconds;
      const machineCores = (machine1.busySeconds - machine0.busySeconds) / Math.max(wall, 0.01);
      const oursCores = ours / Math.max(wall, 0.01);
      return { machineCores, oursCores, foreignCores: Math.max(0, machineCores - oursCores) };
    },
  };
}

function cpuSecondsOrZero(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}
