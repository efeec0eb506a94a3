/**
 * A bucket filled by the real watcher for the `coredog` command's tests:
 * a real S3 server, the watcher's pipeline storing synthetic cores spread
 * over namespaces, pods, containers and crash times (their mtimes), and one
 * real core of a crashed process.
 */

import { join } from "node:path";
import { buildCore } from "./elf_builder.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { startTestWatcher, testConfigYaml, type TestWatcher, waitFor } from "./harness.ts";
import { makeRealCore } from "./real_core.ts";
import { type S3Server, startS3Server } from "./s3_server.ts";

/** One synthetic core as written. */
export interface PlantedCore {
  namespace: string;
  pod: string;
  container: string;
  comm: string;
  pid: number;
  crashedAtMs: number;
}

/** A filled bucket. */
export interface CliBucket {
  dir: string;
  s3: S3Server;
  /** The watcher's configuration file: the one `coredog --config` reads. */
  configPath: string;
  planted: PlantedCore[];
  /** The real core's bytes, and where it was attributed. */
  realCore: { bytes: Uint8Array; namespace: string; pod: string; container: string };
  stop(): Promise<void>;
}

/** Namespaces, pods per namespace and containers per pod of the planted cores. */
export const LAYOUT = {
  namespaces: ["team-a", "team-b", "team-c"],
  pods: ["web-7d9f8c6b5-x2x4q", "web-7d9f8c6b5-k8s2p", "batch-28461234-abcde", "db-0"],
  containers: ["app", "sidecar"],
};

/**
 * Plants `count` synthetic cores, one minute of crash time apart going back
 * from now, plus one real core (crashed now, a minute after the newest planted one,
 * so it lists first), and waits until the watcher stored them all.
 */
export async function fillCliBucket(count: number, options: { kube?: KubeClient } = {}): Promise<CliBucket> {
  const dir = await Deno.makeTempDir({ prefix: "coredog-cli-" });
  const corefileDir = join(dir, "dumps");
  const staging = join(dir, "staging");
  await Deno.mkdir(staging, { recursive: true });
  const s3 = await startS3Server(dir);
  let watcher: TestWatcher | undefined;
  try {
    const watcherOptions = {
      kube: options.kube,
      corefileDir,
      s3Endpoint: s3.endpoint,
      storageYaml: ["DeleteLocalCorefile: true"],
      watcherYaml: ["UploadConcurrency: 4"],
    };
    // Every directory exists before the watcher starts, as the webhook makes them before a container runs.
    for (const namespace of LAYOUT.namespaces) {
      for (const pod of LAYOUT.pods) {
        for (const container of LAYOUT.containers) {
          await Deno.mkdir(join(corefileDir, namespace, pod, container), { recursive: true });
        }
      }
    }
    await Deno.mkdir(join(corefileDir, "team-a", "crashy-5f7b9-qwert", "app"), { recursive: true });
    watcher = await startTestWatcher(watcherOptions);
    const configPath = join(dir, "coredog.yaml");
    await Deno.writeTextFile(configPath, testConfigYaml(watcherOptions));
    const now = Date.now();
    const planted: PlantedCore[] = [];
    for (let i = 0; i < count; i++) {
      const namespace = LAYOUT.namespaces[i % LAYOUT.namespaces.length];
      const pod = LAYOUT.pods[Math.floor(i / LAYOUT.namespaces.length) % LAYOUT.pods.length];
      const container = LAYOUT.containers[Math.floor(i / 12) % LAYOUT.containers.length];
      const core: PlantedCore = {
        namespace,
        pod,
        container,
        comm: `server${i % 7}`,
        pid: 100 + i,
        crashedAtMs: now - (i + 1) * 60_000,
      };
      planted.push(core);
      const bytes = buildCore({
        signal: [11, 6, 7, 8][i % 4],
        pid: core.pid,
        comm: core.comm,
        args: `/app/${core.comm} --id ${i}`,
        exe: `/app/${core.comm}`,
        loadBytes: 4096,
      });
      const name = `core.${core.comm}.${core.pid}`;
      const staged = join(staging, name);
      await Deno.writeFile(staged, bytes);
      await Deno.utime(staged, core.crashedAtMs / 1000, core.crashedAtMs / 1000);
      await Deno.rename(staged, join(corefileDir, namespace, pod, container, name));
    }
    // Crashed outside CorefileDir and moved in with its time set, so the watcher sees it once, complete.
    const realStaged = await makeRealCore(join(staging, "real"));
    const bytes = await Deno.readFile(realStaged);
    const realTime = now / 1000;
    await Deno.utime(realStaged, realTime, realTime);
    const realDir = join(corefileDir, "team-a", "crashy-5f7b9-qwert", "app");
    await Deno.rename(realStaged, join(realDir, "core.bash.1"));
    const stored = () => watcher!.watcher.metrics.coresUploaded.get();
    try {
      await waitFor(
        `${count + 1} cores stored`,
        () => stored() >= count + 1,
        Number(Deno.env.get("CLI_FILL_TIMEOUT") ?? 120_000),
      );
    } catch (error) {
      throw new Error(
        `${(error as Error).message}; ${stored()} stored; log tail:\n${watcher.logs.slice(-15).join("\n")}`,
      );
    }
    const test = watcher;
    return {
      dir,
      s3,
      configPath,
      planted,
      realCore: { bytes, namespace: "team-a", pod: "crashy-5f7b9-qwert", container: "app" },
      async stop() {
        await test.stop();
        await s3.stop();
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    await watcher?.stop();
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}
