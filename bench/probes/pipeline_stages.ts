/**
 * Where the pipeline's time and memory go: writes one synthetic core, then
 * runs each stage of the upload path on it in a fresh process
 * (`upload_stage_probe.ts`) against a local s3rver, and prints wall time,
 * CPU time and peak RSS growth per stage, next to `zstd -1 -T0` and a
 * single `curl` PUT of the same data.
 *
 * Usage: deno run -A bench/probes/pipeline_stages.ts [size MiB, default 1024] [data fraction, default 0.125]
 *
 * @module
 */

import { join } from "node:path";
import { runBaseline } from "../support/baseline_upload.ts";
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Process } from "../support/s3_process.ts";
import { writeSyntheticCore } from "../support/synthetic_core.ts";
import type { StageCost } from "./upload_stage_probe.ts";

const PROBE = new URL("./upload_stage_probe.ts", import.meta.url).pathname;
const STAGES = ["idle", "read", "read+sha256", "read+zstd", "read+sha256+zstd", "upload", "upload-reuse"];

if (import.meta.main) {
  const sizeMiB = Number(Deno.args[0] ?? 1024);
  const dataFraction = Number(Deno.args[1] ?? 0.125);
  const dir = await Deno.makeTempDir({ prefix: "coredog-stages-" });
  const s3 = await startS3Process(dir);
  try {
    const core = join(dir, "core.server.1");
    await writeSyntheticCore(core, { sizeBytes: sizeMiB * 1024 * 1024, dataFraction, seed: 1 });
    const compressed = join(dir, "core.zst");
    await run("zstd", ["-1", "-T0", "-q", "-f", core, "-o", compressed]);
    console.log(`core: ${sizeMiB} MiB, ${dataFraction * 100}% data pages\n`);
    console.log("| Stage | Wall s | CPU s | RSS at start MiB | Peak RSS growth MiB | Output MiB |");
    console.log("| --- | --- | --- | --- | --- | --- |");
    const row = (cost: StageCost) =>
      console.log(
        `| ${cost.stage} | ${cost.seconds.toFixed(2)} | ${cost.cpuSeconds.toFixed(2)} | ${
          (cost.startRssBytes / 2 ** 20).toFixed(0)
        } | ${((cost.peakRssBytes - cost.startRssBytes) / 2 ** 20).toFixed(0)} | ${
          (cost.outputBytes / 2 ** 20).toFixed(1)
        } |`,
      );
    for (const stage of STAGES) row(await probe(stage, core, s3.endpoint));
    row(await probe("upload-precompressed", compressed, s3.endpoint));
    const baseline = await runBaseline(core, { endpoint: s3.endpoint, key: "probe/baseline.zst", scratchDir: dir });
    console.log(
      `| baseline: zstd -1 -T0, curl PUT, HEAD | ${baseline.seconds.toFixed(2)} | ${
        baseline.cpuSeconds.toFixed(2)
      } | | | ${(baseline.storedBytes / 2 ** 20).toFixed(1)} |`,
    );
    const started = performance.now();
    await run("curl", [
      "-sS",
      "-f",
      "--aws-sigv4",
      "aws:amz:us-east-1:s3",
      "--user",
      `${S3_ACCESS_KEY}:${S3_SECRET_KEY}`,
      "-H",
      "x-amz-content-sha256: UNSIGNED-PAYLOAD",
      "-T",
      compressed,
      `${s3.endpoint}/cores/probe/single-put.zst`,
    ]);
    console.log(
      `| curl: one PUT of the compressed file | ${((performance.now() - started) / 1000).toFixed(2)} | | | | |`,
    );
  } finally {
    await s3.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function probe(stage: string, file: string, endpoint: string): Promise<StageCost> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PROBE, stage, file, endpoint],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** Runs `program`; throws with its stderr when it fails, so that a failed step never prints a time. */
async function run(program: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(program, { args, stdout: "null", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`${program} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
}
