/**
 * Reads what the watcher stored in the test S3 server.
 */

import { GetObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { S3_ACCESS_KEY, S3_SECRET_KEY } from "./s3_server.ts";

const BUCKET = "cores";

/** A client for the test server's `cores` bucket. */
export function testS3Client(endpoint: string): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * Every key in the bucket. s3rver miscomputes the signature of signed
 * bucket listings (object requests verify fine), so the listing is read
 * anonymously, which s3rver allows.
 */
export async function listKeys(client: S3Client): Promise<string[]> {
  const endpoint = await client.config.endpoint!();
  const base = `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`;
  const keys: string[] = [];
  let marker = "";
  for (;;) {
    const response = await fetch(`${base}/${BUCKET}?max-keys=1000&marker=${encodeURIComponent(marker)}`);
    const xml = await response.text();
    if (!response.ok) throw new Error(`listing ${BUCKET}: HTTP ${response.status}: ${xml}`);
    const page = [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeXml(m[1]));
    keys.push(...page);
    if (!xml.includes("<IsTruncated>true</IsTruncated>") || page.length === 0) break;
    marker = page[page.length - 1];
  }
  return keys.sort();
}

function decodeXml(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(
    /&amp;/g,
    "&",
  );
}

/** An object's bytes. */
export async function getBytes(client: S3Client, key: string): Promise<Uint8Array> {
  const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return await object.Body!.transformToByteArray();
}

/** An object's last-modified time, ms. */
export async function lastModified(client: S3Client, key: string): Promise<number> {
  const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
  return head.LastModified!.getTime();
}
