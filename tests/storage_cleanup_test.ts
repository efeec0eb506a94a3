/**
 * Cleaning up multipart uploads that a kill interrupted. s3rver implements
 * neither ListMultipartUploads nor AbortMultipartUpload, so this runs
 * against an HTTP server answering with the shapes the S3 API reference
 * documents (ListMultipartUploadsResult, 204 for an abort).
 */

import assert from "node:assert/strict";
import { parseConfig } from "../src/core/config.ts";
import { CleanupUnsupportedError, createStorage } from "../src/storage/mod.ts";

const KEY = "corefiles/shop/payments-0/app/20261127T075534.516Z-payments-7.core.zst";

function listing(keys: { key: string; id: string }[]): string {
  const uploads = keys.map(({ key, id }) =>
    `<Upload><Key>${key}</Key><UploadId>${id}</UploadId>` +
    "<Initiator><ID>arn:aws:iam::111122223333:user/coredog</ID><DisplayName>coredog</DisplayName></Initiator>" +
    "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>ops</DisplayName></Owner>" +
    "<StorageClass>STANDARD</StorageClass><Initiated>2026-11-27T07:55:34.000Z</Initiated></Upload>"
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Bucket>cores</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${KEY}</Prefix>` +
    `<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads}</ListMultipartUploadsResult>`;
}

function storageFor(endpoint: string) {
  return createStorage(
    parseConfig(
      `StorageConfig:\n  S3Bucket: cores\n  S3Endpoint: ${endpoint}\n  s3AccesskeyID: AKID\n  s3SecretAccessKey: SECRET\n`,
    ).storage,
  );
}

Deno.test("interrupted multipart uploads of the key are listed and aborted, and only those", async () => {
  const aborted: string[] = [];
  let listed = "";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    if (request.method === "GET" && url.searchParams.has("uploads")) {
      listed = url.searchParams.get("prefix") ?? "";
      return new Response(
        listing([{ key: KEY, id: "upload-one" }, { key: KEY, id: "upload-two" }, { key: `${KEY}.json`, id: "other" }]),
        { headers: { "content-type": "application/xml" } },
      );
    }
    if (request.method === "DELETE" && url.searchParams.has("uploadId")) {
      aborted.push(`${decodeURIComponent(url.pathname)}#${url.searchParams.get("uploadId")}`);
      return new Response(null, { status: 204 });
    }
    return new Response("unexpected", { status: 400 });
  });
  try {
    const count = await storageFor(`http://127.0.0.1:${server.addr.port}`).abortIncompleteUploads(KEY);
    assert.equal(count, 2);
    assert.equal(listed, KEY);
    assert.deepEqual(aborted, [`/cores/${KEY}#upload-one`, `/cores/${KEY}#upload-two`]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a store that cannot list multipart uploads is told apart from a failure", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    new Response(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message></Error>',
      { status: 501, headers: { "content-type": "application/xml" } },
    ));
  try {
    const error = await storageFor(`http://127.0.0.1:${server.addr.port}`).abortIncompleteUploads(KEY).catch((e) => e);
    assert.ok(error instanceof CleanupUnsupportedError, String(error));
    assert.match(error.message, /^cannot list multipart uploads: NotImplemented/);
  } finally {
    await server.shutdown();
  }
});
