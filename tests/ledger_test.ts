/**
 * The watcher's ledger of uploads in progress (src/watcher/ledger.ts), as a
 * restart reads it to clean up interrupted multipart uploads.
 */

import assert from "node:assert/strict";
import { Ledger } from "../src/watcher/ledger.ts";

Deno.test("an upload killed during its re-upload, with an earlier cleanup still owed, is cleaned up once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coredog-ledger-" });
  try {
    const ledger = new Ledger(dir);
    await ledger.init();
    const key = "shop/api-0/app/2026-12-01T10-00-00Z-api-42.core.zst";
    // The first upload was interrupted and its abort failed: kept for a cleanup.
    await ledger.markUploading("a1b2c3a1b2c3a1b2", key);
    await ledger.keepForCleanup("a1b2c3a1b2c3a1b2", key);
    // The re-upload starts, and the watcher is killed before it ends.
    await ledger.markUploading("a1b2c3a1b2c3a1b2", key);
    // Another core's upload, also interrupted.
    await ledger.markUploading("d4e5f6d4e5f6d4e5", "shop/api-1/app/2026-12-01T10-00-01Z-api-43.core.zst");

    const pending = await new Ledger(dir).listUploading();
    assert.deepEqual(pending.map((mark) => mark.id).sort(), ["a1b2c3a1b2c3a1b2", "d4e5f6d4e5f6d4e5"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
