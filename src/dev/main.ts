/**
 * `deno task dev`: CoreDog on this machine with embedded defaults: dumps
 * under `./.coredog/dumps`, storage in `./.coredog/bucket`, messages on the
 * console, and the admission webhook on https://127.0.0.1:8443/mutate.
 * `--kubeconfig <file>` (or `COREDOG_KUBECONFIG`) also enriches cores from
 * that cluster (its current context) and records their events there; without
 * it the quickstart never calls a cluster, not even the one `~/.kube/config`
 * names, so a demo crash writes nothing into it.
 *
 * @module
 */

import { join } from "node:path";
import { parseConfig } from "../core/config.ts";
import { flagsUsage, parseFlags } from "../flag_parser.ts";
import { createLogger } from "../log.ts";
import { WATCHER_FLAGS } from "../watcher/flags.ts";
import { runWatcher } from "../watcher/main.ts";
import { machineCorePattern } from "./core_pattern.ts";
import { DEV_WEBHOOK_PORT, startDevWebhook } from "./dev_webhook.ts";
import { DEMO_CONTAINER_DIR, devConfigYaml, devDir } from "./dev_config.ts";

if (import.meta.main) {
  const kubeconfig = devKubeconfig(Deno.args);
  const dir = devDir();
  const embedded = parseConfig(devConfigYaml(dir), { source: "embedded local defaults" });
  const config = kubeconfig ? { ...embedded, watcher: { ...embedded.watcher, kubernetes: "auto" as const } } : embedded;
  const demo = join(dir, DEMO_CONTAINER_DIR);
  await Deno.mkdir(demo, { recursive: true });
  const verdict = await machineCorePattern();
  const webhookLine = await devWebhookLine(config.corefileDir, dir);
  console.log(
    [
      "CoreDog local mode",
      `  dumps:   ${config.corefileDir}   (layout <namespace>/<pod>/<container>/<core>)`,
      `  storage: ${config.storage.localDir}`,
      "  notify:  this console",
      `  kubernetes: ${kubeconfig ? `enrichment from ${kubeconfig}` : "off (--kubeconfig <file> turns it on)"}`,
      `  health:  http://localhost:${config.watcher.healthPort}/metrics`,
      webhookLine,
      verdict.ok
        ? `Make a real crash from another terminal:  npx deno@2.9.6 task crash   (or: deno task crash)`
        : `This machine cannot write real cores into a directory: ${verdict.why}\n` +
          `Copy any file in instead:  cp /bin/ls ${demo}/core.demo`,
      "",
    ].join("\n"),
  );
  Deno.exit(await runWatcher(config, createLogger({ fields: { component: "watcher" } }), { kubeconfig }));
}

/** `deno task dev` takes the watcher's `--kubeconfig` alone; a usage error exits 2, as the roles do. */
function devKubeconfig(args: string[]): string | undefined {
  const specs = WATCHER_FLAGS.filter((spec) => spec.flag === "--kubeconfig");
  try {
    const flags = parseFlags(args, specs, { env: (name) => Deno.env.get(name) });
    if (flags.help) {
      console.log(flagsUsage("deno task dev", specs));
      Deno.exit(0);
    }
    return String(flags.kubeconfig) || undefined;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${flagsUsage("deno task dev", specs)}`);
    Deno.exit(2);
  }
}

/** Starts the local webhook and says how to reach it; a busy port costs the webhook only, not the quickstart. */
async function devWebhookLine(corefileDir: string, dir: string): Promise<string> {
  const port = Number(Deno.env.get("COREDOG_WEBHOOK_PORT") || DEV_WEBHOOK_PORT);
  try {
    const webhook = await startDevWebhook({
      dir,
      corefileDir,
      port,
      logger: createLogger({ fields: { component: "webhook" } }),
    });
    return [
      `  webhook: ${webhook.url}   (CA: ${webhook.caFile})`,
      "  Post a sample AdmissionReview and print the patch:",
      `    ${webhook.curlExample}`,
    ].join("\n");
  } catch (error) {
    return `  webhook: not started (${(error as Error).message}); set COREDOG_WEBHOOK_PORT to another port`;
  }
}
