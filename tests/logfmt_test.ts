import assert from "node:assert/strict";
import { formatLogfmt } from "../src/core/logfmt.ts";

Deno.test("log lines match the seed's format", () => {
  assert.equal(
    formatLogfmt({ level: "info", msg: "capture a file:/corefile/core.bash.1" }),
    'level=info msg="capture a file:/corefile/core.bash.1"',
  );
  assert.equal(formatLogfmt({ level: "warn", path: "/a/b", size: 3, gone: undefined }), "level=warn path=/a/b size=3");
});

Deno.test("a hostile file name cannot forge a second log line", () => {
  const line = formatLogfmt({ msg: 'x\nlevel=info msg="deleted local corefile: /etc"' });
  assert.equal(line.includes("\n"), false);
  assert.equal(line, 'msg="x\\nlevel=info msg=\\"deleted local corefile: /etc\\""');
});
