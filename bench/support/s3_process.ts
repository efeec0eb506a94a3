/**
 * The local S3 server the pipeline benchmarks upload to: the tests' own
 * `@20minutes/s3rver` process (SigV4 checks, aws-chunked refused like OSS),
 * started here so that its pid is known and its CPU can be accounted for.
 * CoreDog and the baseline upload to the same server in the same run.
 *
 * @module
 */

import { listKeys, testS3Client } from "../../tests/support/s3_client.ts";
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server } from "../../tests/support/s3_server.ts";

export { S3_ACCESS_KEY, S3_SECRET_KEY };

/** The bucket the benchmarks store cores in. */
const BUCKET = "cores";

/** A running S3 server. */
export interface S3Process {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts s3rver with bucket `cores` storing under `<dir>/s3data`. */
export async function startS3Process(dir: string): Promise<S3Process> {
  const server = await startS3Server(dir, { buckets: [BUCKET] });
  return { endpoint: server.endpoint, pid: server.pid, stop: server.stop };
}

/**
 * The `StorageConfig:` block of a CoreDog configuration that stores to the
 * server at `endpoint`, one line per element, so that every benchmark
 * uploads with the same settings.
 */
export function s3StorageYaml(endpoint: string): string[] {
  return [
    "StorageConfig:",
    "  protocol: s3",
    `  s3AccesskeyID: ${S3_ACCESS_KEY}`,
    `  s3SecretAccessKey: ${S3_SECRET_KEY}`,
    `  S3Bucket: ${BUCKET}`,
    `  S3Endpoint: ${endpoint}`,
  ];
}

/** How many objects under `prefix` end in `suffix`. */
export async function countObjects(endpoint: string, prefix: string, suffix: string): Promise<number> {
  const keys = await listKeys(testS3Client(endpoint));
  return keys.filter((key) => key.startsWith(prefix) && key.endsWith(suffix)).length;
}
