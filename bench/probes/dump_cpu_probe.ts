/**
 * Where the watcher's CPU goes while the kernel writes a real core: starts
 * a watcher rig, crashes `crash_fill` with `<data MiB>` in a pod directory,
 * and prints each watcher thread's CPU seconds during the dump (crash to
 * close) and after it (close to stored), by thread name from
 * `/proc/<pid>/task/<tid>/comm`.
 *
 * Usage: deno run -A bench/probes/dump_cpu_probe.ts 1024
 *
 * @module
 */

import { join } from "node:path";
import { buildCrashFill, crashWithCore } from "../support/real_core.ts";
import { startWatcherRig } from "../support/watcher_rig.ts";

function threads(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const comm = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/comm`).trim();
      const fields = Deno.readTextFileSync(`/proc/${pid}/task/${entry.name}/stat`).split(") ")[1].split(" ");
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
      byName.set(comm, (byName.get(comm) ?? 0) + seconds);
    } catch {
      // The thread ended.
    }
  }
  return byName;
}

function diff(a: Map<string, number>, b: Map<string, number>): string {
  return [...b].map(([name, s]) => [name, s - (a.get(name) ?? 0)] as const).filter(([, s]) => s > 0.005)
    .sort((x, y) => y[1] - x[1]).map(([name, s]) => `${name} ${s.toFixed(2)}`).join(", ");
}

if (import.meta.main) {
  const dataMiB = Number(Deno.args[0] ?? 1024);
  const workDir = await Deno.makeTempDir({ prefix: "coredog-probe-" });
  const binary = await buildCrashFill(workDir);
  const rig = await startWatcherRig(workDir, { podDirs: ["probe/p/app"] });
  try {
    await new Promise((r) => setTimeout(r, 2000));
    // What the idle watcher costs over the same time, for comparison.
    const idle0 = threads(rig.watcher.pid);
    await new Promise((r) => setTimeout(r, 2000));
    console.log(`idle 2000 ms: ${diff(idle0, threads(rig.watcher.pid))}`);
    let atDump = new Map<string, number>();
    let closeThreads: Map<string, number> | undefined;
    const crash = await crashWithCore(binary, join(rig.corefileDir, "probe/p/app"), {
      dataMiB,
      reservedMiB: 0,
      seed: 1,
      onClose: () => closeThreads = threads(rig.watcher.pid),
      onDumpStart: () => {
        atDump = threads(rig.watcher.pid);
        // COREDOG_PROBE_STRACE=1: count the watcher's system calls during the dump.
        if (Deno.env.get("COREDOG_PROBE_STRACE")) {
          new Deno.Command("timeout", {
            args: ["3", "strace", "-f", "-c", "-o", `${workDir}/../dump-strace.txt`, "-p", String(rig.watcher.pid)],
          }).spawn();
        }
      },
    });
    const atClose = closeThreads ?? threads(rig.watcher.pid);
    await rig.watcher.waitUntil("stored", () => rig.watcher.stored.has(crash.path), 600_000);
    const atStored = threads(rig.watcher.pid);
    console.log(
      `dump ${crash.closedAt - crash.dumpStartedAt} ms (reaped ${
        crash.reapedAt - crash.closedAt
      } ms after the close): ${diff(atDump, atClose)}`,
    );
    console.log(
      `close to stored ${rig.watcher.stored.get(crash.path)! - crash.closedAt} ms: ${diff(atClose, atStored)}`,
    );
  } finally {
    await rig.stop();
    await Deno.remove(workDir, { recursive: true });
  }
}
