/**
 * Picks the storage backend the configuration asks for.
 *
 * @module
 */

import type { StorageSettings } from "../core/storage_settings.ts";
import { createLocalDirStorage } from "./local_dir.ts";
import { createS3Storage } from "./s3.ts";
import type { Storage } from "./storage.ts";

/** Creates the storage backend the configuration asks for. */
export function createStorage(settings: StorageSettings): Storage {
  return settings.protocol === "local" ? createLocalDirStorage(settings) : createS3Storage(settings);
}
