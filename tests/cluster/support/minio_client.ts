/**
 * An S3 client of the tier's MinIO, for scenarios that read or prepare
 * what the watcher stores there.
 *
 * @module
 */

import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { loadTier } from "./tier_env.ts";

/** A path-style client with the tier's MinIO credentials. */
export function minioClient(): S3Client {
  const tier = loadTier();
  return new S3Client({
    region: "us-east-1",
    endpoint: tier.minio.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: tier.minio.accessKeyId, secretAccessKey: tier.minio.secretAccessKey },
  });
}

/** Creates `bucket` unless this tier's earlier scenarios already did. */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if ((error as Error).name !== "BucketAlreadyOwnedByYou") throw error;
  }
}
