/**
 * Cross-node signature state: watchers in separate processes sharing one
 * store agree on which core of a signature is the first ("new crash") and
 * on the counts; a second signature is its own group.
 */

import assert from "node:assert/strict";
import { startS3Server } from "./support/s3_server.ts";

const RACER = new URL("./support/signature_racer.ts", import.meta.url).pathname;

interface Sighting {
  first: boolean;
  count: number;
  pods: number;
  nodes: number;
  since: string;
}

async function race(config: string, nodes: string[], signature: string, perNode: number) {
  const runs = nodes.map((node) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", RACER, config, node, String(perNode), signature],
      stdout: "piped",
      stderr: "piped",
    }).output()
  );
  const outputs = await Promise.all(runs);
  const sightings: Sighting[] = [];
  const conditional: boolean[] = [];
  for (const out of outputs) {
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    for (const line of new TextDecoder().decode(out.stdout).trim().split("\n")) {
      const value = JSON.parse(line);
      if ("conditional" in value) conditional.push(value.conditional);
      else sightings.push(value);
    }
  }
  return { sightings, conditional };
}

function checkGroups(first: { sightings: Sighting[] }, second: { sightings: Sighting[] }): void {
  assert.equal(first.sightings.filter((s) => s.first).length, 1, "exactly one watcher reports a new crash");
  assert.equal(second.sightings.filter((s) => s.first).length, 1, "the second signature is new on its own");
  const last = first.sightings.reduce((a, b) => (b.count > a.count ? b : a));
  assert.equal(last.count, 6, "every core of the signature is counted, from both nodes");
  assert.equal(last.nodes, 2);
  assert.equal(last.pods, 4);
  assert.equal(last.since, "2026-12-01T09:12:00.000Z");
}

Deno.test({
  name: "grouping: two watcher processes on one directory store: one new crash per signature, counts across nodes",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-group-" });
    try {
      const config = `${dir}/coredog.yaml`;
      await Deno.writeTextFile(
        config,
        `StorageConfig:\n  protocol: local\n  CFSMountPath: ${dir}/store\nNoticeChannel: []\n`,
      );
      const a = await race(config, ["node-a", "node-b"], "00000000000000aa", 3);
      const b = await race(config, ["node-a", "node-b"], "00000000000000bb", 1);
      assert.deepEqual(a.conditional, [true, true], "O_EXCL creation is a conditional write");
      checkGroups(a, b);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "grouping: on s3rver, which overwrites despite If-None-Match, the probe detects the missing conditional write",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-group-s3-" });
    const s3 = await startS3Server(dir);
    try {
      const { parseConfig } = await import("../src/core/config.ts");
      const { createStorage } = await import("../src/storage/mod.ts");
      const { SignatureRegistry } = await import("../src/watcher/signature_registry.ts");
      const config = parseConfig(
        `StorageConfig:\n  protocol: s3\n  S3Bucket: cores\n  S3Endpoint: ${s3.endpoint}\n` +
          "  s3AccesskeyID: S3RVER\n  s3SecretAccessKey: S3RVER\n",
      );
      const storage = createStorage(config.storage);
      assert.equal(await storage.createJsonIfAbsent("probe/one.json", { n: 1 }), true);
      assert.equal(await storage.createJsonIfAbsent("probe/one.json", { n: 2 }), true, "s3rver ignores If-None-Match");
      const registry = new SignatureRegistry(storage, { storeDir: config.storage.storeDir });
      assert.equal(await registry.conditionalWrites(), false, "so the registry uses the listing fallback");
    } finally {
      await s3.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
