/**
 * The watcher's S3 path end to end on a real MinIO server: multipart
 * uploads sent without flexible checksums (WHEN_REQUIRED), stored bytes that
 * decompress to the core, presigned links that download, path-style and
 * virtual-hosted-style addressing, and a watcher SIGKILLed in the middle of a
 * multipart upload whose interrupted upload MinIO really lists and the
 * restarted watcher really aborts, leaving exactly one object.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import zlib from "node:zlib";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { randomBytes } from "../../support/random_bytes.ts";
import { makeRealCore } from "../../support/real_core.ts";
import { freePort } from "../../support/s3_server.ts";
import { roleLog, type RoleProcess, startWatcherRole, waitForRoleLine } from "../support/coredog_roles.ts";
import { eventually, scenarioDir } from "../support/kube.ts";
import { ensureBucket, minioClient } from "../support/minio_client.ts";
import { loadTier } from "../support/tier_env.ts";

const MiB = 1024 * 1024;

async function keysIn(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

async function objectBytes(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return await object.Body!.transformToByteArray();
}

async function startS3Watcher(dir: string, storage: string[]): Promise<RoleProcess> {
  const tier = loadTier();
  const watcher = await startWatcherRole({
    dir,
    corefileDir: join(dir, "dumps"),
    healthPort: freePort(),
    storage: ["s3Region: us-east-1", ...storage],
    watcher: ["Kubernetes: off"],
    nodeName: "node-1",
    env: { COREDOG_S3_ACCESS_KEY_ID: tier.minio.accessKeyId, COREDOG_S3_SECRET_ACCESS_KEY: tier.minio.secretAccessKey },
  });
  await waitForRoleLine(watcher, /initial scan complete/);
  return watcher;
}

/** The download link the watcher's console message gave for `key`, if it has printed one yet. */
function linkIn(watcher: RoleProcess, key: string): string | undefined {
  for (const line of watcher.lines) {
    const match = line.match(/https?:\/\/[^\s"\\]+/g)?.find((url) => url.includes(key));
    if (match) return match;
  }
  return undefined;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

Deno.test("MinIO: a real core and a multipart one are stored without flexible checksums, verified and downloadable", async () => {
  const tier = loadTier();
  const client = minioClient();
  await ensureBucket(client, "cores");
  const dir = await scenarioDir("storage-path");
  const watcher = await startS3Watcher(dir, ["S3Bucket: cores", `S3Endpoint: ${tier.minio.endpoint}`]);
  try {
    const real = await makeRealCore(join(dir, "dumps", "shop", "api-0", "app"));
    const realBytes = await Deno.readFile(real);
    // Random bytes do not compress: 3 parts of 8 MiB and a last one.
    const big = randomBytes(28 * MiB);
    await Deno.mkdir(join(dir, "dumps", "shop", "batch-0", "worker"), { recursive: true });
    await Deno.writeFile(join(dir, "dumps", "shop", "batch-0", "worker", "core.worker.7"), big);

    for (const [pod, original] of [["api-0", realBytes], ["batch-0", big]] as const) {
      const keys = await eventually(`${pod}'s core and metadata`, async () => {
        const found = await keysIn(client, "cores", `corefiles/shop/${pod}/`);
        return found.length === 2 ? found : undefined;
      }, 60_000).catch((error) => {
        throw new Error(`${error.message}\n${roleLog(watcher)}`);
      });
      const coreKey = keys.find((k) => k.endsWith(".core.zst"))!;
      const metadataKey = keys.find((k) => k.endsWith(".json"))!;
      assert.equal(metadataKey, coreKey.replace(/\.core\.zst$/, ".json"));
      const stored = await objectBytes(client, "cores", coreKey);
      const restored = new Uint8Array(zlib.zstdDecompressSync(stored));
      assert.equal(sha256(restored), sha256(original), `${pod}: the object decompresses to the core, byte for byte`);
      // WHEN_REQUIRED: no CRC32 trailer was sent, so MinIO holds no flexible checksum for the object.
      const head = await client.send(new HeadObjectCommand({ Bucket: "cores", Key: coreKey, ChecksumMode: "ENABLED" }));
      assert.equal(head.ChecksumCRC32, undefined, `${pod}: no aws-chunked CRC32 upload`);
      if (pod === "batch-0") assert.match(head.ETag ?? "", /-\d+"$/, "stored as a multipart upload");
      const metadata = JSON.parse(new TextDecoder().decode(await objectBytes(client, "cores", metadataKey)));
      assert.equal(metadata.corefile.sha256, sha256(original));
      assert.equal(metadata.storage.backend, "s3");
      // The presigned link in the message downloads the stored object.
      const url = await eventually(`${pod}'s message`, () => Promise.resolve(linkIn(watcher, coreKey)), 20_000);
      assert.match(url, /X-Amz-Signature=/);
      const response = await fetch(url);
      assert.equal(response.status, 200, url);
      assert.equal(sha256(new Uint8Array(await response.arrayBuffer())), sha256(stored));
    }
  } finally {
    await watcher.stop();
  }
});

Deno.test("MinIO: virtual-hosted-style addressing stores the core under <bucket>.<domain>", async () => {
  const tier = loadTier();
  const client = minioClient();
  await ensureBucket(client, "cores-vhost");
  const dir = await scenarioDir("storage-vhost");
  const endpoint = `http://${tier.minio.domain}:${new URL(tier.minio.endpoint).port}`;
  const watcher = await startS3Watcher(dir, [
    "S3Bucket: cores-vhost",
    `S3Endpoint: ${endpoint}`,
    "S3AddressingStyle: virtual",
  ]);
  try {
    assert.ok(watcher.lines.some((l) => l.includes("virtual-hosted style")), roleLog(watcher));
    const core = await makeRealCore(join(dir, "dumps", "shop", "web-0", "app"));
    const original = await Deno.readFile(core);
    const keys = await eventually("the core and metadata", async () => {
      const found = await keysIn(client, "cores-vhost", "corefiles/shop/web-0/");
      return found.length === 2 ? found : undefined;
    }, 60_000).catch((error) => {
      throw new Error(`${error.message}\n${roleLog(watcher)}`);
    });
    const stored = await objectBytes(client, "cores-vhost", keys.find((k) => k.endsWith(".core.zst"))!);
    assert.equal(sha256(new Uint8Array(zlib.zstdDecompressSync(stored))), sha256(original));
    const coreKey = keys.find((k) => k.endsWith(".core.zst"))!;
    const url = await eventually("the message", () => Promise.resolve(linkIn(watcher, coreKey)), 20_000);
    assert.equal(new URL(url).hostname, `cores-vhost.${tier.minio.domain}`);
    const response = await fetch(url);
    assert.equal(response.status, 200, url);
    assert.equal(sha256(new Uint8Array(await response.arrayBuffer())), sha256(stored));
  } finally {
    await watcher.stop();
  }
});

Deno.test("MinIO: a watcher SIGKILLed during a multipart upload; the restart aborts the listed upload and stores one object", async () => {
  const tier = loadTier();
  const client = minioClient();
  await ensureBucket(client, "cores");
  const dir = await scenarioDir("storage-kill");
  const storage = ["S3Bucket: cores", `S3Endpoint: ${tier.minio.endpoint}`];
  let watcher = await startS3Watcher(dir, storage);
  const prefix = "corefiles/shop/payments-0/";
  try {
    const core = randomBytes(96 * MiB);
    await Deno.mkdir(join(dir, "dumps", "shop", "payments-0", "app"), { recursive: true });
    await Deno.writeFile(join(dir, "dumps", "shop", "payments-0", "app", "core.payments.1"), core);
    // MinIO lists multipart uploads of one object name only: the watcher's mark names the key it uploads to.
    const marks = join(dir, "dumps", ".coredog", "uploading");
    const key = await eventually("the watcher's uploading mark", async () => {
      for await (const entry of Deno.readDir(marks)) {
        return JSON.parse(await Deno.readTextFile(join(marks, entry.name))).key as string;
      }
      return undefined;
    }, 60_000);
    assert.ok(key.startsWith(prefix), key);
    const interrupted = await eventually("a multipart upload under way", async () => {
      const listing = await client.send(new ListMultipartUploadsCommand({ Bucket: "cores", Prefix: key }));
      return listing.Uploads?.[0];
    }, 60_000);
    watcher.kill("SIGKILL");
    await watcher.status;
    // MinIO lists the interrupted upload, and no object: only complete objects are listed.
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: "cores", Prefix: key }));
    assert.ok(listed.Uploads?.some((u) => u.UploadId === interrupted.UploadId), "the interrupted upload is listed");
    assert.deepEqual(await keysIn(client, "cores", prefix), [], "nothing listed as stored");

    watcher = await startS3Watcher(dir, storage);
    const keys = await eventually("the core stored after the restart", async () => {
      const found = await keysIn(client, "cores", prefix);
      return found.length === 2 ? found : undefined;
    }, 90_000).catch((error) => {
      throw new Error(`${error.message}\n${roleLog(watcher)}`);
    });
    assert.equal(keys.filter((k) => k.endsWith(".core.zst")).length, 1, keys.join(", "));
    const stored = await objectBytes(client, "cores", keys.find((k) => k.endsWith(".core.zst"))!);
    assert.equal(sha256(new Uint8Array(zlib.zstdDecompressSync(stored))), sha256(core));
    const after = await client.send(new ListMultipartUploadsCommand({ Bucket: "cores", Prefix: key }));
    assert.equal(after.Uploads?.length ?? 0, 0, "the interrupted upload was aborted");
    assert.ok(
      [...watcher.lines, ...watcher.stderr].some((l) => /abort/i.test(l)),
      `the restarted watcher says it aborted the upload:\n${roleLog(watcher)}`,
    );
  } finally {
    await watcher.stop();
  }
});
