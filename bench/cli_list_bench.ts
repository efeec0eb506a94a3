/**
 * How long `coredog list` and `coredog info` take on a bucket with many
 * cores: the tests' s3rver holding `--count` metadata objects (default
 * 2,000) in the watcher's key layout, beside their cores' keys, over 10
 * namespaces. Each figure is the median of `--repeat` runs of the command
 * in this process (no process start), against the same server, without
 * the metadata cache unless the row says so.
 *
 *   deno run -A bench/cli_list_bench.ts [--count 2000] [--repeat 5]
 *
 * Prints a table; asserts nothing about time.
 *
 * @module
 */

import { runCli } from "../src/cli/main.ts";
import { parseConfig } from "../src/core/config.ts";
import { buildObjectKeys } from "../src/core/object_key.ts";
import { createStorage } from "../src/storage/mod.ts";
import { sampleRecord } from "../tests/support/crash_records.ts";
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server } from "../tests/support/s3_server.ts";

function flag(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(Deno.args[at + 1]);
}

const count = flag("count", 2000);
const repeat = flag("repeat", 5);
const dir = await Deno.makeTempDir({ prefix: "coredog-cli-bench-" });
const server = await startS3Server(dir);
const configText = [
  "StorageConfig:",
  "  protocol: s3",
  `  s3AccesskeyID: ${S3_ACCESS_KEY}`,
  `  s3SecretAccessKey: ${S3_SECRET_KEY}`,
  "  S3Bucket: cores",
  `  S3Endpoint: ${server.endpoint}`,
  "",
].join("\n");
const configPath = `${dir}/coredog.yaml`;
await Deno.writeTextFile(configPath, configText);

try {
  const config = parseConfig(configText);
  const storage = createStorage(config.storage);
  const now = Date.now();
  const ids: string[] = [];
  const started = performance.now();
  for (let start = 0; start < count; start += 32) {
    await Promise.all(Array.from({ length: Math.min(32, count - start) }, async (_, j) => {
      const i = start + j;
      const id = crypto.randomUUID().replaceAll("-", "");
      ids[i] = id;
      const crashedAtMs = now - i * 30_000;
      const namespace = `team-${i % 10}`;
      const pod = `web-${Math.floor(i / 10) % 50}`;
      const keys = buildObjectKeys({
        storeDir: config.storage.storeDir,
        namespace,
        pod,
        container: "app",
        crashedAtMs,
        executable: "server",
        pid: 1000 + i,
        filename: "core",
        id,
        compression: "zstd",
      });
      const record = sampleRecord({
        id,
        crashedAt: new Date(crashedAtMs).toISOString(),
        pod: { namespace, name: pod },
        storage: { key: keys.core, metadataKey: keys.metadata },
      });
      // The core's key too: a real bucket lists both.
      await storage.putJson(keys.core, {});
      await storage.putJson(keys.metadata, record);
    }));
  }
  console.log(
    `${count} metadata objects (and ${count} core keys) written in ${Math.round(performance.now() - started)} ms`,
  );

  const cacheDir = `${dir}/cache`;
  const median = (args: string[], cached = false) => medianMs(args, { cached, cacheDir, configPath, repeat });
  const cases: [string, string[], boolean?][] = [
    ["list (all)", ["list"]],
    ["list (all), metadata cache filled", ["list"], true],
    ["info ID (searches all), metadata cache filled", ["info", ids[count - 1].slice(0, 12)], true],
    ["list --limit 20", ["list", "--limit", "20"]],
    ["list -n team-3 (a tenth)", ["list", "-n", "team-3"]],
    ["list --since 1h", ["list", "--since", "1h"]],
    ["info ID (searches all)", ["info", ids[count - 1].slice(0, 12)]],
    ["info ID -n team-3", ["info", ids[3].slice(0, 12), "-n", "team-3"]],
  ];
  console.log(`\n| command (${count} cores, median of ${repeat}) | ms |\n| --- | ---: |`);
  for (const [label, args, cached] of cases) console.log(`| ${label} | ${Math.round(await median(args, cached))} |`);
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}

/** How to run one measured command of {@linkcode medianMs}. */
interface MedianOptions {
  cached: boolean;
  cacheDir: string;
  configPath: string;
  repeat: number;
}

/** The median time of `coredog <args>` over `repeat` runs, ms; with the cache, one run fills it first. */
async function medianMs(args: string[], options: MedianOptions): Promise<number> {
  const io = (cached: boolean) => ({
    stdout() {},
    stderr() {},
    stderrIsTerminal: false,
    env: (name: string) => (cached && name === "COREDOG_CACHE_DIR" ? options.cacheDir : undefined),
    now: () => Date.now(),
  });
  if (options.cached) await runCli([...args, "--config", options.configPath], io(true));
  const times: number[] = [];
  for (let r = 0; r < options.repeat; r++) {
    const t = performance.now();
    const code = await runCli([...args, "--config", options.configPath], io(options.cached));
    times.push(performance.now() - t);
    if (code !== 0) throw new Error(`coredog ${args.join(" ")} exited ${code}`);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}
