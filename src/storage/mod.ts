/**
 * Where cores are stored: picks the backend the configuration asks for.
 *
 * Backends: `s3.ts` (AWS S3, Tencent COS, Alibaba OSS, MinIO and other
 * S3-compatible stores) and `local_dir.ts` (a directory: the local
 * quickstart, or a mounted NFS/CFS share). Their interface is in
 * `storage.ts`.
 *
 * @module
 */

import type { StorageSettings } from "../core/storage_settings.ts";
import { createLocalDirStorage } from "./local_dir.ts";
import { createS3Storage } from "./s3.ts";
import type { Storage } from "./storage.ts";

export { CleanupUnsupportedError, type DownloadLink, type Storage } from "./storage.ts";

/** Creates the storage backend the configuration asks for. */
export function createStorage(settings: StorageSettings): Storage {
  return settings.protocol === "local" ? createLocalDirStorage(settings) : createS3Storage(settings);
}
