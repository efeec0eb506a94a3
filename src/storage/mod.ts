/**
 * Where cores are stored.
 *
 * Backends: `s3.ts` (AWS S3, Tencent COS, Alibaba OSS, MinIO and other
 * S3-compatible stores) and `local_dir.ts` (a directory: the local
 * quickstart, or a mounted NFS/CFS share), picked by `create_storage.ts`.
 * Their interface is in `storage.ts`.
 *
 * @module
 */

export { createStorage } from "./create_storage.ts";
export { CleanupUnsupportedError, type DownloadLink, type Storage } from "./storage.ts";
