/**
 * `deno task dev`: CoreDog on this machine with embedded defaults: dumps
 * under `./.coredog/dumps`, storage in `./.coredog/bucket`, messages on the
 * console.
 *
 * @module
 */

import { join } from "node:path";
import { parseConfig } from "../core/config.ts";
import { createLogger } from "../log.ts";
import { runWatcher } from "../watcher/main.ts";
import { machineCorePattern } from "./core_pattern.ts";
import { DEMO_CONTAINER_DIR, DEV_DIR, devConfigYaml } from "./dev_config.ts";

if (import.meta.main) {
  const config = parseConfig(devConfigYaml(DEV_DIR), { source: "embedded local defaults" });
  const demo = join(DEV_DIR, DEMO_CONTAINER_DIR);
  await Deno.mkdir(demo, { recursive: true });
  const verdict = await machineCorePattern();
  console.log(
    [
      "CoreDog local mode",
      `  dumps:   ${config.corefileDir}   (layout <namespace>/<pod>/<container>/<core>)`,
      `  storage: ${config.storage.localDir}`,
      "  notify:  this console",
      `  health:  http://localhost:${config.watcher.healthPort}/metrics`,
      verdict.ok
        ? `Make a real crash from another terminal:  npx deno@2.9.6 task crash   (or: deno task crash)`
        : `This machine cannot write real cores into a directory: ${verdict.why}\n` +
          `Copy any file in instead:  cp /bin/ls ${demo}/core.demo`,
      "",
    ].join("\n"),
  );
  await runWatcher(config, createLogger({ fields: { component: "watcher" } }));
}
