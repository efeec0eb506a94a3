/**
 * `deno task crash`: crashes a real process inside
 * `./.coredog/dumps/default/demo/app/` so that a running `deno task dev`
 * captures, stores and reports its core; or explains why this machine
 * cannot.
 *
 * @module
 */

import { join } from "node:path";
import { machineCorePattern } from "./core_pattern.ts";
import { crashProcessIn } from "./crash_process.ts";
import { DEMO_CONTAINER_DIR, devDir } from "./dev_config.ts";

if (import.meta.main) {
  const dir = join(devDir(), DEMO_CONTAINER_DIR);
  const verdict = await machineCorePattern();
  if (!verdict.ok) {
    console.error(`This machine cannot drop a real core into ${dir}/: ${verdict.why}`);
    console.error(`(kernel.core_pattern = ${JSON.stringify(verdict.pattern)})`);
    console.error(`Any file copied into ${dir}/ goes through the same pipeline, e.g.:  cp /bin/ls ${dir}/core.demo`);
    Deno.exit(2);
  }
  await Deno.mkdir(dir, { recursive: true });
  const result = await crashProcessIn(dir);
  if (result.cores.length === 0) {
    console.error(
      `bash died of ${result.signal ?? "no signal (it exited)"} but left no core in ${dir}/ ` +
        `(core_pattern ${JSON.stringify(verdict.pattern)}); is the hard limit of ulimit -c 0? Check with: ulimit -Hc`,
    );
    Deno.exit(2);
  }
  console.log(
    `bash crashed with ${result.signal} and the kernel wrote ${result.cores.map((c) => join(dir, c)).join(", ")}`,
  );
  console.log("Watch `deno task dev` capture it, store it in .coredog/bucket/ and print the message.");
}
