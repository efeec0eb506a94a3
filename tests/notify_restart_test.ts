/**
 * A message that a shutdown interrupted is not lost: the restarted watcher
 * sends it, from the ledger on the node, exactly once.
 */

import assert from "node:assert/strict";
import { systemClock } from "../src/notify/clock.ts";
import { fakeReceiver } from "./support/fake_chat_apis.ts";
import { exists, listTree, startTestWatcher, waitFor } from "./support/harness.ts";

Deno.test("a notification interrupted by a shutdown is sent once after the restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-restart-" });
  const receiver = fakeReceiver(systemClock);
  await receiver.stop();
  const options = {
    corefileDir: `${dir}/dumps`,
    localDir: `${dir}/bucket`,
    noticeChannels: true,
    topYaml: [
      "NoticeChannel:",
      `  - chan: webhook\n    webhookurl: "${receiver.url}"`,
      "Notify:",
      "  RetryMaxSeconds: 1",
    ],
  };
  let test = await startTestWatcher(options);
  try {
    const core = `${dir}/dumps/team-a/api-0/app/core.api.1`;
    await Deno.mkdir(`${dir}/dumps/team-a/api-0/app`, { recursive: true });
    await Deno.writeTextFile(core, "core stored while the receiver is down");
    await waitFor("the upload and the local delete", async () => !(await exists(core)));
    await waitFor("a failed attempt", () => test.logs.some((l) => l.includes("notification not accepted; retrying")));
    await test.stop();
    assert.ok(test.logs.some((l) => l.includes("notification not delivered before shutdown")));
    assert.equal((await listTree(`${dir}/dumps/.coredog/uploaded`)).length, 1, "the ledger still holds the record");

    receiver.restart();
    test = await startTestWatcher(options);
    await waitFor("the message after the restart", () => receiver.accepted.length === 1);
    const body = JSON.parse(receiver.accepted[0].raw);
    assert.equal(body.event, "core_dump");
    assert.equal(body.record.pod.name, "api-0");
    assert.match(body.record.storage.key, /^corefiles\/team-a\/api-0\/app\//);
    await waitFor(
      "the ledger entry to go",
      async () => (await listTree(`${dir}/dumps/.coredog/uploaded`)).length === 0,
    );
    assert.equal(test.watcher.metrics.coresUploaded.get(), 0, "the core was not stored twice");
    assert.equal(receiver.accepted.length, 1);
  } finally {
    await test.stop();
    await receiver.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
