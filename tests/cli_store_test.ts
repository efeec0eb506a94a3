/**
 * `coredog list`, `info`, `get` and `fetch` against a real S3 server
 * holding a few hundred metadata objects written by the real watcher, and
 * one real core of a crashed process.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { parse as parseYaml } from "yaml";
import { loadConfigFile } from "../src/config_file.ts";
import { createStoreReader } from "../src/cli/store_reader.ts";
import { type CliBucket, fillCliBucket, LAYOUT } from "./support/cli_bucket.ts";
import { cliInProcess, cliProcess } from "./support/cli_run.ts";
import { realCoreSkipReason } from "./support/real_core.ts";
import { listKeys, testS3Client } from "./support/s3_client.ts";
import { zstdCompressSync } from "node:zlib";

const PLANTED = Number(Deno.env.get("CLI_PLANTED") ?? 300);

interface Listed {
  id: string;
  crashedAt: string;
  metadataKey: string;
  pod: { namespace?: string; name?: string };
  container: { name?: string };
  process: { executable?: string; pid?: number };
  corefile: { sha256: string; rawBytes: number };
  storage: { key: string };
  crash?: { signature?: string };
}

async function listJson(bucket: CliBucket, ...args: string[]): Promise<Listed[]> {
  const result = await cliInProcess(["list", "--config", bucket.configPath, "-o", "json", ...args]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

Deno.test({
  name: "coredog list, info, get and fetch on a bucket the real watcher filled",
  ignore: realCoreSkipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const bucket = await fillCliBucket(PLANTED);
    try {
      const all = await listJson(bucket);

      await t.step("list shows every stored core, newest first, with what the watcher recorded", () => {
        assert.equal(all.length, PLANTED + 1);
        const times = all.map((core) => Date.parse(core.crashedAt));
        assert.deepEqual(times, [...times].sort((a, b) => b - a), "newest first");
        // The real core crashed a minute after the newest planted one.
        assert.equal(all[0].pod.name, bucket.realCore.pod);
        assert.equal(all[0].corefile.rawBytes, bucket.realCore.bytes.length);
        // Each planted core is listed once, under its own pod, container, executable and time.
        const expected = bucket.planted.map((p) =>
          `${p.namespace}/${p.pod}/${p.container}/${p.comm}/${p.pid}/${p.crashedAtMs}`
        );
        const seen = all.slice(1).map((c) =>
          `${c.pod.namespace}/${c.pod.name}/${c.container.name}/${c.process.executable}/${c.process.pid}/${
            Date.parse(c.crashedAt)
          }`
        );
        assert.deepEqual(seen, expected, "planted order is newest first too");
      });

      await t.step("filters: namespace, pod, container, since and limit", async () => {
        const ns = await listJson(bucket, "-n", "team-b");
        assert.equal(ns.length, bucket.planted.filter((p) => p.namespace === "team-b").length);
        assert.ok(ns.every((c) => c.pod.namespace === "team-b"));

        const pod = LAYOUT.pods[1];
        const byPod = await listJson(bucket, "-n", "team-b", "--pod", pod);
        const wanted = bucket.planted.filter((p) => p.namespace === "team-b" && p.pod === pod);
        assert.ok(wanted.length > 0);
        assert.deepEqual(byPod.map((c) => c.process.pid), wanted.map((p) => p.pid));

        const byContainer = await listJson(bucket, "-n", "team-b", "--pod", pod, "--container", "sidecar");
        assert.deepEqual(
          byContainer.map((c) => c.process.pid),
          wanted.filter((p) => p.container === "sidecar").map((p) => p.pid),
        );

        // Planted cores are one minute apart going back from the start (the real one a minute ahead).
        const recent = await listJson(bucket, "--since", "90m");
        const cutoff = Date.now() - 90 * 60_000;
        const expectedRecent = bucket.planted.filter((p) => p.crashedAtMs >= cutoff).length + 1;
        assert.ok(Math.abs(recent.length - expectedRecent) <= 1, `${recent.length} vs ${expectedRecent}`);
        assert.ok(recent.every((c) => Date.parse(c.crashedAt) >= cutoff - 60_000));

        const newest = await listJson(bucket, "--limit", "5");
        assert.deepEqual(newest.map((c) => c.id), all.slice(0, 5).map((c) => c.id));
      });

      await t.step("--signature keeps the cores of one crash signature", async () => {
        const signature = all.find((c) => c.crash?.signature)?.crash?.signature;
        assert.ok(signature, "the watcher recorded a signature for at least the real core");
        const prefix = signature.slice(0, 10);
        const matched = await listJson(bucket, "--signature", prefix);
        const expected = all.filter((c) => c.crash?.signature?.startsWith(prefix));
        assert.deepEqual(matched.map((c) => c.id), expected.map((c) => c.id));
        assert.ok(matched.length > 0 && matched.length < all.length, `${matched.length} of ${all.length}`);
        const table = await cliInProcess(["list", "--config", bucket.configPath, "--signature", prefix]);
        assert.match(table.stdout.split("\n")[0], /\bID\s+SIGNATURE$/);
        assert.ok(table.stdout.split("\n")[1].endsWith(signature.slice(0, 16)), table.stdout);
      });

      await t.step(
        "the metadata cache: used while the listing shows an object unchanged, read again when it changed",
        async () => {
          const cacheHome = join(bucket.dir, "cache");
          const env = { COREDOG_CACHE_DIR: cacheHome };
          const args = ["list", "--config", bucket.configPath, "-n", "team-c", "-o", "json"];
          const first = await cliInProcess(args, env);
          assert.equal(first.code, 0, first.stderr);
          const [file] = [...Deno.readDirSync(cacheHome)].map((e) => join(cacheHome, e.name));
          const cached = JSON.parse(await Deno.readTextFile(file));
          const teamC = JSON.parse(first.stdout) as Listed[];
          assert.equal(Object.keys(cached.entries).length, teamC.length);
          assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
          // A planted change in the cache, tag kept: the second run reads the copy, not the store.
          const victim = teamC[0].metadataKey;
          cached.entries[victim][1].container.name = "from-the-cache";
          await Deno.writeTextFile(file, JSON.stringify(cached));
          const second = JSON.parse((await cliInProcess(args, env)).stdout) as Listed[];
          assert.equal(second[0].container.name, "from-the-cache");
          const uncached = JSON.parse((await cliInProcess([...args, "--no-cache"], env)).stdout) as Listed[];
          assert.equal(uncached[0].container.name, teamC[0].container.name);
          // The object changes in the store: its ETag changes, the copy is not used.
          const client = testS3Client(bucket.s3.endpoint);
          const changed = { ...uncached[0], container: { ...uncached[0].container, name: "changed-in-store" } };
          delete (changed as Partial<Listed>).metadataKey;
          await client.send(new PutObjectCommand({ Bucket: "cores", Key: victim, Body: JSON.stringify(changed) }));
          const third = JSON.parse((await cliInProcess(args, env)).stdout) as Listed[];
          assert.equal(third[0].container.name, "changed-in-store");
          await client.send(
            new PutObjectCommand({
              Bucket: "cores",
              Key: victim,
              Body: JSON.stringify({ ...changed, container: teamC[0].container }),
            }),
          );
        },
      );

      await t.step("table and wide output: one row per core, the columns of coredumpctl and kubectl", async () => {
        const table = await cliInProcess(["list", "--config", bucket.configPath, "-n", "team-c", "--limit", "3"]);
        assert.equal(table.code, 0, table.stderr);
        const lines = table.stdout.trimEnd().split("\n");
        assert.match(lines[0], /^TIME\s+NAMESPACE\/POD\s+CONTAINER\s+SIGNAL\s+EXE\s+SIZE\s+ID$/);
        assert.equal(lines.length, 4);
        const teamC = await listJson(bucket, "-n", "team-c", "--limit", "3");
        for (const [i, line] of lines.slice(1).entries()) {
          assert.ok(line.includes(`team-c/${teamC[i].pod.name}`), line);
          assert.ok(line.endsWith(teamC[i].id.slice(0, 12)), line);
          assert.match(line, /SIG(SEGV|ABRT|BUS|FPE)/);
        }
        const wide = await cliInProcess(["list", "--config", bucket.configPath, "-o", "wide", "--limit", "2"]);
        assert.match(wide.stdout.split("\n")[0], /SIGNATURE\s+NODE\s+STORED\s+IMAGE$/);
        assert.match(wide.stdout.split("\n")[1], /node-1\s+[\d.]+ (B|KiB) zstd/);
        const yaml = await cliInProcess(["list", "--config", bucket.configPath, "-o", "yaml", "--limit", "2"]);
        assert.deepEqual((parseYaml(yaml.stdout) as Listed[]).map((c) => c.id), all.slice(0, 2).map((c) => c.id));
        const none = await cliInProcess(["list", "--config", bucket.configPath, "-n", "no-such-namespace"]);
        assert.equal(none.code, 0);
        assert.equal(none.stdout, "");
        assert.match(none.stderr, /No cores found/);
      });

      await t.step("info shows the record of a short ID", async () => {
        const target = all[7];
        const info = await cliInProcess(["info", target.id.slice(0, 8), "--config", bucket.configPath]);
        assert.equal(info.code, 0, info.stderr);
        assert.match(info.stdout, new RegExp(`^ +ID: ${target.id}$`, "m"));
        assert.match(info.stdout, new RegExp(`Pod: ${target.pod.name}$`, "m"));
        assert.match(info.stdout, new RegExp(`SHA-256: ${target.corefile.sha256}$`, "m"));
        assert.match(info.stdout, new RegExp(`Metadata key: ${target.metadataKey.replaceAll(".", "\\.")}$`, "m"));
        const missing = await cliInProcess(["info", "ffffffffffff", "--config", bucket.configPath]);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /no stored core has ID ffffffffffff/);
      });

      await t.step("get writes the real core byte for byte, through zstd and the SHA-256 check", async () => {
        const out = join(bucket.dir, "out", "core.bash");
        await Deno.mkdir(join(bucket.dir, "out"));
        const result = await cliProcess(["get", all[0].id.slice(0, 12), "--config", bucket.configPath, "-o", out]);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(await Deno.readFile(out), bucket.realCore.bytes);
        assert.match(result.stderr, /SHA-256 [0-9a-f]{64} verified/);
        assert.ok(!result.stderr.includes("\r"), "no progress bar when stderr is not a terminal");
        // On a terminal: a progress bar on stderr that ends at 100% of the stored bytes.
        const shown = await cliInProcess(["get", all[0].id, "--config", bucket.configPath, "-o", `${out}.tty`], {}, {
          terminal: true,
        });
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(shown.stderr, /^\r\[[#.]{30}\] +\d+% /);
        assert.match(shown.stderr, /\r\[#{30}\] 100% [\d.]+ KiB \/ [\d.]+ KiB\nwrote /);
        assert.deepEqual(await Deno.readFile(`${out}.tty`), bucket.realCore.bytes);
        const again = await cliInProcess(["get", all[0].id, "--config", bucket.configPath, "-o", out]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /exists; .*--force/);
      });

      await t.step("fetch, run as a process, downloads through a presigned link and checks the core", async () => {
        const config = await loadConfigFile(bucket.configPath, { env: () => undefined });
        const url = await createStoreReader(config.storage).presign(all[0].storage.key, 300);
        const out = join(bucket.dir, "fetched", "core");
        await Deno.mkdir(join(bucket.dir, "fetched"));
        const result = await cliProcess(["fetch", url, "--out", out, "--sha256", all[0].corefile.sha256]);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(await Deno.readFile(out), bucket.realCore.bytes);
        const wrong = await cliProcess(["fetch", url, "--out", `${out}.2`, "--sha256", "0".repeat(64)]);
        assert.equal(wrong.code, 1);
        assert.match(wrong.stderr, /SHA-256 mismatch/);
        assert.deepEqual([...Deno.readDirSync(join(bucket.dir, "fetched"))].map((e) => e.name), ["core"]);
        const expired = await cliProcess([
          "fetch",
          url.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${"0".repeat(64)}`),
          "--out",
          `${out}.3`,
        ]);
        assert.equal(expired.code, 1);
        assert.match(expired.stderr, /HTTP 403/);
      });

      await t.step(
        "debug refuses a core without an image digest; its init container's fetch works as a process",
        async () => {
          const refused = await cliInProcess(["debug", all[0].id, "--config", bucket.configPath, "--dry-run"]);
          assert.equal(refused.code, 1);
          assert.match(refused.stderr, /no image digest \(container\.imageID\).*Pass --image REPOSITORY@sha256:DIGEST/);
          const image = `registry.example.com/bash@sha256:${"a1".repeat(32)}`;
          const dry = await cliInProcess([
            "debug",
            all[0].id,
            "--config",
            bucket.configPath,
            "--dry-run",
            "--image",
            image,
          ]);
          assert.equal(dry.code, 0, dry.stderr);
          const pod = parseYaml(dry.stdout) as {
            metadata: { namespace: string };
            spec: { initContainers: { command: string[] }[]; containers: { name: string; image: string }[] };
          };
          assert.equal(pod.metadata.namespace, "team-a");
          assert.equal(pod.spec.containers.find((c) => c.name === "app")!.image, image);
          // The init container's own command line, run here: the link it got must fetch the very core.
          const [binary, ...args] = pod.spec.initContainers[0].command;
          assert.equal(binary, "/usr/local/bin/coredog");
          const out = join(bucket.dir, "init", "core");
          await Deno.mkdir(join(bucket.dir, "init"));
          const localArgs = args.map((arg) => (arg === "/cores/core" ? out : arg));
          const fetched = await cliProcess(localArgs);
          assert.equal(fetched.code, 0, fetched.stderr);
          assert.deepEqual(await Deno.readFile(out), bucket.realCore.bytes);
        },
      );

      await t.step("a damaged object is refused and leaves no file under the target name", async () => {
        const client = testS3Client(bucket.s3.endpoint);
        const victim = all[0];
        const dir = join(bucket.dir, "damaged");
        await Deno.mkdir(dir);
        // Valid zstd of other bytes: only the checksum can tell.
        const other = new Uint8Array(bucket.realCore.bytes);
        other[other.length - 1] ^= 0xff;
        await client.send(
          new PutObjectCommand({ Bucket: "cores", Key: victim.storage.key, Body: zstdCompressSync(other) }),
        );
        const result = await cliProcess(["get", victim.id, "--config", bucket.configPath, "-o", join(dir, "core")]);
        assert.equal(result.code, 1);
        assert.match(result.stderr, /SHA-256 mismatch: the downloaded core hashes to [0-9a-f]{64}, the metadata says/);
        assert.deepEqual([...Deno.readDirSync(dir)], [], "no file, no temporary file");
        // Not zstd at all.
        await client.send(new PutObjectCommand({ Bucket: "cores", Key: victim.storage.key, Body: "not a core" }));
        const garbage = await cliInProcess(["get", victim.id, "--config", bucket.configPath, "-o", join(dir, "core")]);
        assert.equal(garbage.code, 1);
        assert.match(garbage.stderr, /not valid zstd data/);
        assert.deepEqual([...Deno.readDirSync(dir)], []);
        assert.ok((await listKeys(client)).includes(victim.storage.key), "the store is left as it is");
      });
    } finally {
      await bucket.stop();
    }
  },
});
