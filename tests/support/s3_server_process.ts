/**
 * A real S3 server (`@20minutes/s3rver`, which checks SigV4 signatures and,
 * like OSS, rejects aws-chunked bodies) run as its own process, so that
 * tests can kill it in the middle of an upload.
 *
 * Usage: deno run -A tests/support/s3_server_process.ts <dir> <port> <bucket>...
 * Prints `listening <port>` when ready.
 */

import S3rver from "@20minutes/s3rver";

const [directory, port, ...buckets] = Deno.args;
const server = new S3rver({
  address: "127.0.0.1",
  port: Number(port),
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
const info = await server.run();
console.log(`listening ${info.port}`);
