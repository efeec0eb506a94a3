/**
 * Reading what the watcher stored: listing keys under a prefix, reading a
 * metadata object, streaming a core, and a short-lived link to a core for
 * the debug pod. The watcher's `Storage` only writes; this is the other
 * side, for the same two backends and the same settings.
 *
 * @module
 */

import { GetObjectCommand, ListObjectsCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import fs from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import type { StorageSettings } from "../core/storage_settings.ts";
import { createS3Client } from "../storage/s3_client.ts";

/** One listed object. */
export interface ListedObject {
  key: string;
  size: number;
  /** Changes whenever the object does: the ETag and size on S3, size and modification time in a directory. */
  tag: string;
}

/** Read access to stored cores and metadata. */
export interface StoreReader {
  /** Where it reads, for messages: `s3://bucket/prefix` or a directory. */
  describe(): string;
  /** Names the store (endpoint, bucket or directory, StoreDir), for the metadata cache. */
  identity: string;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** The parsed JSON object at `key`. */
  getJson(key: string): Promise<unknown>;
  /** The object's bytes as a stream, and its size. */
  open(key: string): Promise<{ body: Readable; size: number }>;
  /** A link that downloads `key` without credentials for `seconds` (S3 only). */
  presign(key: string, seconds: number): Promise<string>;
}

/** Objects per listing request; S3 never returns more. */
const PAGE_KEYS = 1000;

/** A reader for the store the configuration names. */
export function createStoreReader(settings: StorageSettings): StoreReader {
  return settings.protocol === "local" ? localReader(settings.localDir) : s3Reader(settings);
}

function s3Reader(settings: StorageSettings): StoreReader {
  // The watcher's own client: the same checksum settings and addressing style.
  const { client, endpoint } = createS3Client(settings);
  // Path style lists `GET /bucket/?prefix=`; some S3-compatible servers (s3rver) sign the bucket URL without the
  // trailing slash and refuse the signature. `GET /bucket?prefix=` means the same to every S3 API.
  client.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { path?: string };
      if (request.path && /^\/[^/]+\/$/.test(request.path)) request.path = request.path.slice(0, -1);
      return next(args);
    },
    { step: "build", name: "coredogBucketPathWithoutSlash" },
  );
  const bucket = settings.bucket;

  return {
    describe: () => `s3://${bucket}/${settings.storeDir}`,
    identity: `s3 ${endpoint.url ?? settings.region} ${bucket} ${settings.storeDir}`,
    async *list(prefix: string): AsyncIterable<ListedObject> {
      // ListObjects (v1) with a marker: every S3-compatible store has it, and s3rver's v2 continuation tokens fail.
      let marker: string | undefined;
      for (;;) {
        const page = await client.send(
          new ListObjectsCommand({ Bucket: bucket, Prefix: prefix || undefined, Marker: marker, MaxKeys: PAGE_KEYS }),
        );
        const contents = page.Contents ?? [];
        for (const object of contents) {
          if (object.Key) yield { key: object.Key, size: object.Size ?? 0, tag: `${object.ETag} ${object.Size}` };
        }
        if (!page.IsTruncated || contents.length === 0) return;
        marker = page.NextMarker ?? contents[contents.length - 1].Key;
      }
    },
    async getJson(key: string): Promise<unknown> {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(await object.Body!.transformToString());
    },
    async open(key: string): Promise<{ body: Readable; size: number }> {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = object.Body as unknown;
      // Under Deno the SDK's fetch handler hands back a web stream; the node handler a Readable.
      const readable = body instanceof Readable
        ? body
        : Readable.fromWeb((body as { transformToWebStream(): ReadableStream }).transformToWebStream() as never);
      return { body: readable, size: object.ContentLength ?? 0 };
    },
    presign(key: string, seconds: number): Promise<string> {
      return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: seconds });
    },
  };
}

function localReader(dir: string): StoreReader {
  const root = resolve(dir);
  function pathOf(key: string): string {
    const path = resolve(root, key);
    if (!path.startsWith(root + sep)) throw new Error(`object key "${key}" escapes ${root}`);
    return path;
  }
  async function* walk(sub: string): AsyncIterable<ListedObject> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(join(root, sub), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) yield* walk(rel);
      // Objects being written are `.partial-*` files (src/storage/local_dir.ts): not objects yet.
      else if (entry.isFile() && !entry.name.includes(".partial-")) {
        const stat = await fs.promises.stat(join(root, rel));
        yield { key: rel, size: stat.size, tag: `${stat.size} ${stat.mtimeMs}` };
      }
    }
  }
  return {
    describe: () => `directory ${root}`,
    identity: `local ${root}`,
    async *list(prefix: string): AsyncIterable<ListedObject> {
      // Walk only the directory the prefix names, then filter the rest of it.
      const cut = prefix.lastIndexOf("/");
      const start = cut === -1 ? "" : prefix.slice(0, cut);
      if (start) pathOf(start);
      for await (const object of walk(start)) {
        if (object.key.startsWith(prefix)) yield object;
      }
    },
    async getJson(key: string): Promise<unknown> {
      return JSON.parse(await fs.promises.readFile(pathOf(key), "utf8"));
    },
    async open(key: string): Promise<{ body: Readable; size: number }> {
      const path = pathOf(key);
      const size = (await fs.promises.stat(path)).size;
      return { body: fs.createReadStream(path), size };
    },
    presign(key: string): Promise<string> {
      throw new Error(
        `the store is the directory ${root}: a debug pod cannot download ${relative(root, pathOf(key))} from it; ` +
          "coredog debug needs S3 storage (StorageConfig.protocol s3)",
      );
    },
  };
}
