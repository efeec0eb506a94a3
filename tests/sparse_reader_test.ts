import assert from "node:assert/strict";
import { openSparseReader } from "../src/watcher/sparse_reader.ts";

Deno.test({
  name: "sparse reader: a FIFO put where the checked core was is refused at once, not waited on",
  // The open would block the whole watcher if it waited for a writer; the test's deadline says so.
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coredog-sparse-" });
    try {
      const core = `${dir}/core.1`;
      await Deno.writeFile(core, new Uint8Array(4096).fill(7));
      const checked = await Deno.stat(core);
      await Deno.remove(core);
      const mkfifo = await new Deno.Command("mkfifo", { args: [core] }).output();
      assert.ok(mkfifo.success);
      const started = performance.now();
      const reader = openSparseReader(core, { dev: checked.dev, ino: checked.ino! });
      assert.equal(reader, undefined, "not the file that was checked");
      assert.ok(performance.now() - started < 1000, "answered without waiting for a writer");

      // The file that was checked is read, data and holes, as it is.
      const sparse = `${dir}/core.2`;
      const file = await Deno.open(sparse, { create: true, write: true });
      await file.truncate(3 * 1024 * 1024);
      await file.seek(2 * 1024 * 1024, Deno.SeekMode.Start);
      await file.write(new Uint8Array(4096).fill(9));
      file.close();
      const stat = await Deno.stat(sparse);
      const opened = openSparseReader(sparse, { dev: stat.dev, ino: stat.ino! });
      if (opened === undefined) return; // no FFI here: the caller reads the whole file
      let total = 0;
      let nonZero = 0;
      for await (const span of opened.spans(stat.size, () => Promise.resolve(new Uint8Array(1024 * 1024)))) {
        if (span.kind === "hole") total += span.length;
        else {
          total += span.bytes.length;
          nonZero += span.bytes.filter((b) => b === 9).length;
        }
      }
      opened.close();
      assert.equal(total, stat.size);
      assert.equal(nonZero, 4096);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
