/**
 * Crash signatures on a real S3 server (the tier's MinIO), path-style and
 * virtual-hosted: MinIO answers 412 to a second `If-None-Match: *` PutObject
 * (so the registry uses conditional writes, not the listing fallback that
 * s3rver needs), `listKeys` pages through more than one listing page, and
 * two watcher processes racing on one bucket with real gcc crashes give
 * exactly one "new crash" per signature and one digest with the right
 * counts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ListObjectsV2Command, PutObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { parseConfig } from "../../../src/core/config.ts";
import { createStorage } from "../../../src/storage/mod.ts";
import { SignatureRegistry } from "../../../src/watcher/signature_registry.ts";
import { systemClock } from "../../../src/notify/clock.ts";
import { type FakeApi, fakeWecom } from "../../support/fake_chat_apis.ts";
import { buildCrasher, crasherSkipReason, crashIn } from "../../support/crashers.ts";
import { runDeno, type RunningProcess } from "../../support/process.ts";
import { freePort } from "../../support/s3_server.ts";
import { taskRunArgs } from "../../support/tasks.ts";
import { roleLog, waitForRoleLine } from "../support/coredog_roles.ts";
import { scenarioDir } from "../support/kube.ts";
import { ensureBucket, minioClient } from "../support/minio_client.ts";
import { loadTier } from "../support/tier_env.ts";

const BUCKET = "signatures";
const MINUTE = 60_000;

/** The StorageConfig lines for the tier's MinIO, path-style or virtual-hosted. */
function storageLines(style: "path" | "virtual", storeDir: string): string[] {
  const tier = loadTier();
  const endpoint = style === "path"
    ? tier.minio.endpoint
    : `http://${tier.minio.domain}:${new URL(tier.minio.endpoint).port}`;
  return [
    "protocol: s3",
    "s3Region: us-east-1",
    `S3Bucket: ${BUCKET}`,
    `S3Endpoint: ${endpoint}`,
    `S3AddressingStyle: ${style}`,
    `StoreDir: ${storeDir}`,
  ];
}

function storageFor(style: "path" | "virtual", storeDir: string) {
  const tier = loadTier();
  const config = parseConfig(`StorageConfig:\n${storageLines(style, storeDir).map((l) => `  ${l}`).join("\n")}\n`, {
    credentials: {
      accessKeyId: { value: tier.minio.accessKeyId, source: "env" },
      secretAccessKey: { value: tier.minio.secretAccessKey, source: "env" },
    },
  });
  return { storage: createStorage(config.storage), storeDir: config.storage.storeDir };
}

for (const style of ["path", "virtual"] as const) {
  Deno.test(`MinIO (${style}-style): a second If-None-Match: * write is refused with 412, so the registry writes conditionally`, async () => {
    await ensureBucket(minioClient(), BUCKET);
    const run = crypto.randomUUID().slice(0, 8);
    const { storage, storeDir } = storageFor(style, `conditional-${run}`);
    assert.equal(await storage.createJsonIfAbsent(`${storeDir}/probe.json`, { n: 1 }), true);
    assert.equal(await storage.createJsonIfAbsent(`${storeDir}/probe.json`, { n: 2 }), false, "MinIO keeps the first");
    // The raw answer, to be sure it is a 412 and not some other refusal taken for one.
    const status = await minioClient().send(
      new PutObjectCommand({ Bucket: BUCKET, Key: `${storeDir}/probe.json`, Body: "{}", IfNoneMatch: "*" }),
    ).then(() => 200, (error: S3ServiceException) => error.$metadata.httpStatusCode);
    assert.equal(status, 412);
    assert.equal(await new SignatureRegistry(storage, { storeDir }).conditionalWrites(), true);
  });
}

Deno.test("MinIO: listKeys pages through 1100 keys, sorted and limited, the same keys a signed ListObjectsV2 lists", async () => {
  const client = minioClient();
  await ensureBucket(client, BUCKET);
  const run = crypto.randomUUID().slice(0, 8);
  const { storage } = storageFor("path", `list-${run}`);
  const prefix = `list-${run}/seen/`;
  const keys = Array.from({ length: 1100 }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);
  for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => storage.putJson(k, {})));
  assert.deepEqual(await storage.listKeys(prefix, 10_000), keys, "every key, across pages of 1000");
  assert.deepEqual(await storage.listKeys(prefix, 3), keys.slice(0, 3));
  const v2: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
    );
    v2.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  assert.deepEqual(v2.sort(), keys);
});

/**
 * A watcher process on MinIO with one-minute digest windows. Messages go to
 * a WeCom robot (`console` takes no digests: it prints every crash).
 */
async function startWatcher(
  dir: string,
  node: string,
  options: { storeDir: string; wecom: string },
): Promise<RunningProcess> {
  const tier = loadTier();
  const config = join(dir, `${node}.yaml`);
  await Deno.writeTextFile(
    config,
    [
      `CorefileDir: ${join(dir, node)}`,
      "StorageConfig:",
      ...storageLines(node === "node-a" ? "path" : "virtual", options.storeDir).map((l) => `  ${l}`),
      "CrashLoop:",
      "  WindowMinutes: 1",
      "NoticeChannel:",
      `  - chan: wechat\n    webhookurl: "${options.wecom}"\n    msgtype: text`,
      "Watcher:",
      "  Kubernetes: off",
      `  HealthPort: ${freePort()}`,
      "  SettleMilliseconds: 200",
      "  QuietSeconds: 1",
      '  KeepFree: "0"',
      '  MaxUse: "0"',
      "",
    ].join("\n"),
  );
  await Deno.mkdir(join(dir, node), { recursive: true });
  const process = runDeno([...taskRunArgs("watcher"), "--config", config], {
    env: {
      NODE_NAME: node,
      COREDOG_S3_ACCESS_KEY_ID: tier.minio.accessKeyId,
      COREDOG_S3_SECRET_ACCESS_KEY: tier.minio.secretAccessKey,
    },
  });
  await waitForRoleLine(process, /initial scan complete/);
  return process;
}

/** The texts a WeCom robot accepted. */
function messages(wecom: FakeApi): string[] {
  return wecom.accepted.map((r) => r.json.text?.content ?? r.json.markdown?.content);
}

async function placeCore(core: string, dir: string, target: string): Promise<void> {
  const staged = join(dir, "stage", crypto.randomUUID());
  await Deno.copyFile(core, staged);
  await Deno.mkdir(join(target, ".."), { recursive: true });
  await Deno.rename(staged, target);
}

Deno.test({
  name: "MinIO: two watcher processes racing on one bucket: one new crash per signature, one digest with the counts",
  ignore: crasherSkipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const client = minioClient();
    await ensureBucket(client, BUCKET);
    const dir = await scenarioDir("crash-signatures-race");
    await Deno.mkdir(join(dir, "stage"), { recursive: true });
    const storeDir = `race-${crypto.randomUUID().slice(0, 8)}`;
    const server = await buildCrasher("null_deref.c", { dir, name: "server", framePointers: true });
    const worker = await buildCrasher("other_site.c", { dir, name: "worker", framePointers: false });
    const coreA = await crashIn(server, join(dir, "crash-a"));
    const coreB = await crashIn(worker, join(dir, "crash-b"));
    const wecom = fakeWecom(systemClock);
    const watchers = [
      await startWatcher(dir, "node-a", { storeDir, wecom: wecom.url }),
      await startWatcher(dir, "node-b", { storeDir, wecom: wecom.url }),
    ];
    try {
      const intoMinute = Date.now() % MINUTE;
      if (intoMinute > 20_000) await new Promise((r) => setTimeout(r, MINUTE - intoMinute + 500));
      const windowEnd = Math.ceil(Date.now() / MINUTE) * MINUTE;
      // Six replicas of one crash on two nodes at once, and a second crash site twice.
      const placed = [];
      for (const node of ["node-a", "node-b"]) {
        for (let i = 0; i < 3; i++) {
          placed.push(placeCore(coreA, dir, join(dir, node, "shop", `web-${node}-${i}`, "app", "core.server")));
        }
        placed.push(placeCore(coreB, dir, join(dir, node, "shop", `batch-${node}`, "worker", "core.worker")));
      }
      await Promise.all(placed);
      const all = () => messages(wecom);
      const deadline = windowEnd + 6_000 + 45_000;
      while (Date.now() < deadline && all().length < 4) await new Promise((r) => setTimeout(r, 250));
      await new Promise((r) => setTimeout(r, 2_000));
      const texts = all();
      const digests = texts.filter((t) => t.startsWith("[crash "));
      const news = texts.filter((t) => !t.startsWith("[crash ") && t.includes(", new crash"));
      assert.equal(texts.length, 4, `two new crashes and two digests, nothing else:\n${texts.join("\n====\n")}`);
      assert.equal(news.filter((t) => t.includes("crash: server+")).length, 1, "one new crash for the server");
      assert.equal(news.filter((t) => t.includes("crash: worker+")).length, 1, "one new crash for the worker");
      const server6 = digests.find((t) => t.includes(" server SIGSEGV at server+"));
      const worker2 = digests.find((t) => t.includes(" worker SIGSEGV at worker+"));
      assert.ok(server6 && worker2, digests.join("\n====\n"));
      assert.match(server6, /: 5 more crashes in 5 pods on 2 nodes between /);
      assert.match(server6.split("\n")[1], /^seen 6 times in 6 pods on 2 nodes since /);
      assert.match(worker2, /: 1 more crash in 1 pod on 1 node between /);
      assert.match(worker2.split("\n")[1], /^seen 2 times in 2 pods on 2 nodes since /);
      // What the bucket holds: one first.json and one window claim per signature, a marker per core.
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${storeDir}/_signatures/` }),
      );
      const keys = (listed.Contents ?? []).map((o) => o.Key!.slice(`${storeDir}/_signatures/`.length));
      assert.equal(keys.filter((k) => k.endsWith("/first.json")).length, 2, keys.join("\n"));
      assert.equal(keys.filter((k) => k.endsWith(".claim.json")).length, 2, keys.join("\n"));
      assert.equal(keys.filter((k) => k.includes("/seen/")).length, 8, keys.join("\n"));
      console.log(`new crash message:\n${news[0]}\n\ndigest:\n${server6}`);
    } catch (error) {
      for (const watcher of watchers) console.error(roleLog(watcher));
      throw error;
    } finally {
      for (const watcher of watchers) watcher.kill("SIGTERM");
      for (const watcher of watchers) await watcher.status;
      await wecom.stop();
    }
  },
});
