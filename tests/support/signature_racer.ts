/**
 * A stand-in for one node's watcher in the cross-node signature tests: its
 * own process, its own registry, the shared store. Usage:
 * `signature_racer.ts <config.yaml> <node> <count> <signature>`; prints one
 * JSON sighting per line.
 */

import { parseConfig } from "../../src/core/config.ts";
import { createStorage } from "../../src/storage/mod.ts";
import { SignatureRegistry } from "../../src/watcher/signature_registry.ts";

const [configPath, node, count, signature] = Deno.args;
const config = parseConfig(await Deno.readTextFile(configPath));
const registry = new SignatureRegistry(createStorage(config.storage), { storeDir: config.storage.storeDir });
const results = await Promise.all(Array.from({ length: Number(count) }, (_, i) =>
  registry.observe({
    id: crypto.randomUUID().replaceAll("-", ""),
    crashedAt: new Date(Date.UTC(2026, 11, 1, 9, 12, i)).toISOString(),
    node: { name: node, ip: "10.0.0.1" },
    pod: { namespace: "team-a", name: `web-${node}-${i % 2}` },
    crash: { signature, site: "server+0x1139", frames: [], modules: [] },
  })));
for (const sighting of results) console.log(JSON.stringify(sighting));
console.log(JSON.stringify({ conditional: await registry.conditionalWrites() }));
