/**
 * The interface every storage backend implements.
 *
 * @module
 */

import type { Readable } from "node:stream";

/** A download link for a stored core. */
export interface DownloadLink {
  url: string;
  /** When the link stops working (presigned URLs only), ISO 8601. */
  expiresAt?: string;
}

/** A place that keeps cores and their metadata. */
export interface Storage {
  /** `s3` or `local`. */
  readonly backend: "s3" | "local";
  /** Bucket name (S3 only). */
  readonly bucket?: string;
  /** Where objects go, for the start-up log. */
  describe(): string;
  /**
   * Streams `body` to `key`, replacing any object there. Rejects when the
   * store refuses or the stream fails; nothing partial is left visible.
   */
  upload(key: string, body: Readable, options: { contentType: string }): Promise<void>;
  /** The stored object's size in bytes, or undefined when it does not exist. */
  size(key: string): Promise<number | undefined>;
  /** Stores a small JSON document. */
  putJson(key: string, value: unknown): Promise<void>;
  /**
   * Stores a small JSON document only when `key` does not exist yet: true
   * when this call created it, false when it was already there (S3
   * `PutObject` with `If-None-Match: *`, answered 412 when it exists).
   */
  createJsonIfAbsent(key: string, value: unknown): Promise<boolean>;
  /** Keys under `prefix`, at most `limit` of them (sorted). */
  listKeys(prefix: string, limit: number): Promise<string[]>;
  /** A link from which the object can be downloaded. */
  downloadLink(key: string): Promise<DownloadLink>;
  /**
   * Removes what an upload to `key` interrupted by a kill left behind
   * (incomplete multipart uploads, temporary files); returns how many.
   * Rejects with {@linkcode CleanupUnsupportedError} when the store cannot
   * list them.
   */
  abortIncompleteUploads(key: string): Promise<number>;
}

/** The store cannot list incomplete uploads (s3rver, some S3-compatible stores, missing permission). */
export class CleanupUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CleanupUnsupportedError";
  }
}

/** Fills `PublicURLTemplate` (`{bucket}`, `{key}`; the key URL-encoded per segment). */
export function publicUrl(template: string, bucket: string, key: string): string {
  const encodedKey = key.split("/").map(encodeURIComponent).join("/");
  return template.replaceAll("{bucket}", bucket).replaceAll("{key}", encodedKey);
}
