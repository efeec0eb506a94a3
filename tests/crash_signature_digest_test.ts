/**
 * Crash-signature digests across nodes: the first core of a signature gets
 * "new crash", repeats within the window fold into one digest listing the
 * pods and nodes, sent by the one watcher that claimed the window; a second
 * signature is its own group. First the rules, then two real watcher
 * processes on one shared store with real gcc crashes and a real chat API.
 */

import assert from "node:assert/strict";
import { groupVerdict, markerName, parseMarker, renderSignatureDigest, windowOf } from "../src/core/crash_digest.ts";
import { systemClock } from "../src/notify/clock.ts";
import { signatureRegistryFor } from "../src/watcher/signature_registry.ts";
import { createStorage } from "../src/storage/mod.ts";
import { parseConfig } from "../src/core/config.ts";
import { sampleRecord } from "./support/crash_records.ts";
import { buildCrasher, crasherSkipReason, crashIn } from "./support/crashers.ts";
import { fakeWecom, type Received } from "./support/fake_chat_apis.ts";
import { lastLines, runDeno, type RunningProcess } from "./support/process.ts";
import { freePort } from "./support/s3_server.ts";
import { taskRunArgs } from "./support/tasks.ts";

const MINUTE = 60_000;
const W0 = Date.UTC(2026, 11, 1, 9, 10);

Deno.test("grouping verdict: the first core and a claimant of a known signature are sent, the rest fold", () => {
  const window = windowOf(W0 + 90_000, 10 * MINUTE);
  assert.deepEqual(window, { start: W0, end: W0 + 10 * MINUTE }, "windows are aligned on the epoch");
  const base = { first: false, claimant: false, sinceMs: W0 + 1000, window, digestSent: false };
  assert.equal(groupVerdict({ ...base, first: true, claimant: true }), "notify", "new crash");
  assert.equal(groupVerdict(base), "fold");
  assert.equal(groupVerdict({ ...base, claimant: true }), "fold", "new in this window: the first core spoke");
  assert.equal(groupVerdict({ ...base, claimant: true, sinceMs: W0 - 1 }), "notify", "known before the window");
  assert.equal(groupVerdict({ ...base, digestSent: true }), "notify", "too late for the digest");
});

Deno.test("markers: the name carries time, node, namespace, pod and core, and reads back", () => {
  const record = sampleRecord({ crashedAt: "2026-12-01T09:12:33.000Z" });
  const name = markerName({ ...record, node: { name: "node_7", ip: "" } });
  assert.equal(name, "20261201T091233.000Z_node-7_team-a~web-7d9f8c6b5-x2x4q_0123456789ab");
  assert.deepEqual(parseMarker(name), {
    crashedAt: "2026-12-01T09:12:33.000Z",
    node: "node-7",
    namespace: "team-a",
    pod: "web-7d9f8c6b5-x2x4q",
    core: "0123456789ab",
  });
  assert.equal(parseMarker(".probe-1234"), undefined);
  assert.equal(parseMarker("x_y_z_w"), undefined);
});

Deno.test("digest text: what folded and where, the totals as {crash.seen} says them, then the pods and nodes", () => {
  const record = sampleRecord();
  record.crash = { signature: "76b3a2e2b393fda7", site: "server+0x1139", frames: [], modules: [] };
  const occurrences = Array.from({ length: 25 }, (_, i) => ({
    crashedAt: new Date(W0 + i * 1000).toISOString(),
    node: `node-${i % 3}`,
    namespace: "team-a",
    pod: `web-${i}`,
    core: "abcdef012345",
  }));
  const text = renderSignatureDigest({
    signature: "76b3a2e2b393fda7",
    window: { start: W0, end: W0 + 10 * MINUTE },
    occurrences,
    totals: { first: false, count: 26, pods: 26, nodes: 3, since: "2026-12-01T09:10:00.000Z" },
    record,
  }, { template: "{pod.name}: {crash.seen}" });
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    "[crash 76b3a2e2b393fda7] server SIGSEGV at server+0x1139: 25 more crashes in 25 pods on 3 nodes " +
      "between 09:10 and 09:20 UTC",
  );
  assert.equal(lines[1], "seen 26 times in 26 pods on 3 nodes since 2026-12-01 09:10");
  assert.equal(lines[3], "web-7d9f8c6b5-x2x4q: seen 26 times in 26 pods on 3 nodes since 2026-12-01 09:10");
  assert.equal(lines[4], "The first 20 of these crashes:");
  assert.equal(lines[5], "- 2026-12-01 09:10:00 node node-0: team-a/web-0 core abcdef012345");
  assert.equal(lines.filter((l) => l.startsWith("- ")).length, 20);
});

Deno.test("registry: two nodes on one store; one new crash, the claimant folds the rest, a late core speaks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-digest-" });
  try {
    const config = parseConfig(`StorageConfig:\n  protocol: local\n  CFSMountPath: ${dir}\n`);
    const options = { storeDir: config.storage.storeDir, windowMs: 10 * MINUTE };
    const nodeA = signatureRegistryFor(createStorage(config.storage), options);
    const nodeB = signatureRegistryFor(createStorage(config.storage), options);
    const core = (i: number, node: string, signature = "00000000000000aa") => ({
      id: `${i}`.padEnd(32, "c"),
      crashedAt: new Date(W0 + i * 1000).toISOString(),
      node: { name: node, ip: "" },
      pod: { namespace: "team-a", name: `web-${i}` },
      crash: { signature, site: "server+0x1139", frames: [], modules: [] },
    });
    const sightings = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => (i % 2 ? nodeB : nodeA).observe(core(i, i % 2 ? "b" : "a"))),
    );
    const verdicts = sightings.map((s) => s!.group!.verdict);
    assert.equal(verdicts.filter((v) => v === "notify").length, 1, `one message at once: ${verdicts}`);
    assert.equal(sightings.filter((s) => s!.first).length, 1);
    assert.equal(sightings.filter((s) => s!.group!.claimant).length, 1, "one claimant per window");
    const window = sightings[0]!.group!.window;
    const contents = await nodeA.windowContents("00000000000000aa", window);
    assert.equal(contents.occurrences.length, 5, "the digest lists every core but the new crash");
    assert.deepEqual(new Set(contents.occurrences.map((o) => o.node)), new Set(["a", "b"]));
    assert.equal(contents.totals.count, 6);
    const late = await nodeB.observe(core(7, "b"));
    assert.equal(late!.group!.verdict, "notify", "a core recorded after the digest went out gets its own message");
    const other = await nodeB.observe(core(8, "b", "00000000000000bb"));
    assert.equal(other!.first, true, "a second signature is its own group");
    const next = await nodeA.observe({ ...core(9, "a"), crashedAt: new Date(W0 + 11 * MINUTE).toISOString() });
    assert.equal(next!.group!.verdict, "notify", "a known signature's next window starts with a message");
    assert.match(JSON.stringify(next), /"count":8/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Messages of a WeCom robot, as text. */
function texts(received: Received[]): string[] {
  return received.map((r) => r.json.markdown?.content ?? r.json.text?.content);
}

async function startWatcher(name: string, root: string, options: { store: string; wecom: string }) {
  const config = `${root}.yaml`;
  await Deno.writeTextFile(
    config,
    [
      `CorefileDir: ${root}`,
      "StorageConfig:",
      "  protocol: local",
      `  CFSMountPath: ${options.store}`,
      "CrashLoop:",
      "  WindowMinutes: 1",
      "NoticeChannel:",
      `  - chan: wechat\n    webhookurl: "${options.wecom}"\n    msgtype: text`,
      "Watcher:",
      "  Kubernetes: off",
      `  StateDir: ${root}.state`,
      `  HealthPort: ${freePort()}`,
      "  SettleMilliseconds: 200",
      "  QuietSeconds: 1",
      '  KeepFree: "0"',
      '  MaxUse: "0"',
      "",
    ].join("\n"),
  );
  return runDeno([...taskRunArgs("watcher"), "--config", config], { env: { NODE_NAME: name } });
}

/** Copies `core` into a pod directory of `root` in one rename, so the watcher never sees half of it. */
async function placeCore(core: string, root: string, pod: string, stage: string): Promise<void> {
  const staged = `${stage}/${pod}-${crypto.randomUUID()}`;
  await Deno.copyFile(core, staged);
  await Deno.mkdir(`${root}/team-a/${pod}/app`, { recursive: true });
  await Deno.rename(staged, `${root}/team-a/${pod}/app/core.${pod}`);
}

Deno.test({
  name: "digest end to end: two watcher processes, one store, real crashes: one new crash and one digest per signature",
  ignore: crasherSkipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-digest-e2e-" });
    const wecom = fakeWecom(systemClock);
    const watchers: RunningProcess[] = [];
    try {
      const nullDeref = await buildCrasher("null_deref.c", { dir, name: "server", framePointers: true });
      const otherSite = await buildCrasher("other_site.c", { dir, name: "worker", framePointers: true });
      const coreA = await crashIn(nullDeref, `${dir}/crash-a`);
      const coreB = await crashIn(otherSite, `${dir}/crash-b`);
      await Deno.mkdir(`${dir}/stage`);
      const roots = { "node-a": `${dir}/node-a`, "node-b": `${dir}/node-b` };
      for (const [name, root] of Object.entries(roots)) {
        await Deno.mkdir(root);
        watchers.push(await startWatcher(name, root, { store: `${dir}/store`, wecom: wecom.url }));
      }
      for (const watcher of watchers) await watcher.waitForLine(/watching|ready|started/i, 30_000);
      // Every core in one one-minute window: start early in a minute.
      const intoMinute = Date.now() % MINUTE;
      if (intoMinute > 20_000) await new Promise((r) => setTimeout(r, MINUTE - intoMinute + 500));
      const windowEnd = Math.ceil(Date.now() / MINUTE) * MINUTE;
      for (let i = 0; i < 3; i++) {
        await placeCore(coreA, roots["node-a"], `web-a${i}`, `${dir}/stage`);
        await placeCore(coreA, roots["node-b"], `web-b${i}`, `${dir}/stage`);
      }
      await placeCore(coreB, roots["node-a"], "worker-a0", `${dir}/stage`);
      await placeCore(coreB, roots["node-b"], "worker-b0", `${dir}/stage`);
      const deadline = windowEnd + 6_000 + 30_000;
      while (Date.now() < deadline && wecom.accepted.length < 4) await new Promise((r) => setTimeout(r, 250));
      // Nothing more may come: give a stray message time to arrive.
      await new Promise((r) => setTimeout(r, 2_000));
      const messages = texts(wecom.accepted);
      const digests = messages.filter((t) => t.startsWith("[crash "));
      const news = messages.filter((t) => t.includes("new crash"));
      assert.ok(digests.every((t) => !t.includes("new crash")), "a digest never says new crash");
      assert.equal(messages.length, 4, `two new crashes and two digests, nothing else:\n${messages.join("\n====\n")}`);
      assert.equal(news.length, 2, "one new crash per signature");
      assert.match(news.find((t) => t.includes("server+"))!, /crash: server\+0x[0-9a-f]+, new crash/);
      assert.match(news.find((t) => t.includes("worker+"))!, /crash: worker\+0x[0-9a-f]+, new crash/);
      const digestA = digests.find((t) => t.includes(" server SIGSEGV at server+"));
      const digestB = digests.find((t) => t.includes(" worker SIGSEGV at worker+"));
      assert.ok(digestA && digestB, `a digest for each signature:\n${digests.join("\n====\n")}`);
      assert.match(digestA, /: 5 more crashes in 5 pods on 2 nodes between/);
      assert.match(digestA.split("\n")[1], /^seen 6 times in 6 pods on 2 nodes since /);
      for (const pod of ["web-a0", "web-a1", "web-a2", "web-b0", "web-b1", "web-b2"]) {
        const listed = digestA.includes(`team-a/${pod} core`);
        const alone = news.some((t) => t.includes(`[team-a/${pod}]`));
        assert.ok(listed !== alone, `${pod} is either the new crash or in the digest, exactly once`);
      }
      assert.match(digestB, /: 1 more crash in 1 pod on 1 node between/);
      assert.match(digestB.split("\n")[1], /^seen 2 times in 2 pods on 2 nodes since /);
      console.log(`new crash message:\n${news[0]}\n\ndigest:\n${digestA}`);
    } catch (error) {
      for (const watcher of watchers) console.error(lastLines(watcher, 30));
      throw error;
    } finally {
      for (const watcher of watchers) watcher.kill("SIGTERM");
      for (const watcher of watchers) await watcher.status;
      await wecom.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
