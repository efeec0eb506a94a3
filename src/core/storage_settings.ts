/**
 * The `StorageConfig` section as the storage backends use it: protocol,
 * bucket and endpoint checks, credentials, compression.
 *
 * @module
 */

import {
  checkCredentialPair,
  type CredentialOverrides,
  type CredentialSource,
  mergeCredentials,
} from "./credentials.ts";
import { isHttpUrl, trimTrailingSlash } from "./config_values.ts";
import { endpointIncludesBucket, endpointUrl } from "./s3_endpoint.ts";

/** Storage settings, from `StorageConfig`. */
export interface StorageSettings {
  protocol: "s3" | "local";
  /** The protocol as written, e.g. `cos` or `cfs`. */
  protocolName: string;
  accessKeyId: string;
  secretAccessKey: string;
  credentialSource: CredentialSource;
  region: string;
  bucket: string;
  endpoint: string;
  addressingStyle: "auto" | "path" | "virtual";
  localDir: string;
  storeDir: string;
  presignedUrlExpireSeconds: number;
  publicUrlTemplate: string;
  deleteLocalCorefile: boolean;
  compression: "zstd" | "gzip" | "none";
  compressionLevel: number;
}

/** Options of {@linkcode buildStorage}. */
export interface StorageBuildOptions {
  /** Credentials from the environment or Secret files. */
  credentials: CredentialOverrides;
  /** The keys of `StorageConfig` as written (a misspelled credential key changes what is reported). */
  writtenKeys: string[];
  /** Where problems are collected. */
  problems: string[];
}

/** Storage settings from the checked `StorageConfig` values; problems that involve several keys are collected. */
export function buildStorage(values: Record<string, unknown>, options: StorageBuildOptions): StorageSettings {
  const { problems } = options;
  const protocolName = String(values.protocol);
  const protocol = protocolName === "cfs" || protocolName === "local" ? "local" : "s3";
  let credentials = mergeCredentials(
    { accessKeyId: String(values.s3AccesskeyID), secretAccessKey: String(values.s3SecretAccessKey) },
    options.credentials,
    problems,
  );
  if (protocol === "s3") {
    if (!values.S3Bucket) {
      problems.push(`StorageConfig.S3Bucket is required with protocol "${protocolName}"; set the bucket name`);
    }
    credentials = checkCredentialPair(credentials, options.writtenKeys, problems);
    const endpoint = String(values.S3Endpoint);
    if (endpoint && !isValidEndpoint(endpoint)) {
      problems.push(
        `StorageConfig.S3Endpoint "${endpoint}" is not a host or http(s) URL; write e.g. cos.ap-nanjing.myqcloud.com or http://10.0.0.5:9000`,
      );
    } else if (endpointIncludesBucket(endpoint, String(values.S3Bucket))) {
      problems.push(
        `StorageConfig.S3Endpoint "${endpoint}" starts with the bucket name; give the region endpoint (e.g. cos.ap-nanjing.myqcloud.com) and the bucket in S3Bucket`,
      );
    }
  } else if (!values.CFSMountPath) {
    problems.push(
      `StorageConfig.CFSMountPath is required with protocol "${protocolName}"; set the directory cores go to`,
    );
  } else if (!String(values.CFSMountPath).startsWith("/")) {
    problems.push(`StorageConfig.CFSMountPath "${values.CFSMountPath}" must be an absolute path`);
  }
  const template = String(values.PublicURLTemplate);
  if (template && !template.includes("{key}")) {
    problems.push(`StorageConfig.PublicURLTemplate "${template}" must contain {key}`);
  }
  const level = Number(values.CompressionLevel);
  if (values.Compression === "gzip" && level > 9) {
    problems.push(`StorageConfig.CompressionLevel ${level} is out of range for gzip (1-9)`);
  }
  return {
    protocol,
    protocolName,
    ...credentials,
    region: String(values.s3Region) || "us-east-1",
    bucket: String(values.S3Bucket),
    endpoint: String(values.S3Endpoint),
    addressingStyle: values.S3AddressingStyle as StorageSettings["addressingStyle"],
    localDir: trimTrailingSlash(String(values.CFSMountPath)),
    storeDir: String(values.StoreDir).replace(/^\/+|\/+$/g, ""),
    presignedUrlExpireSeconds: Number(values.PresignedURLExpireSeconds),
    publicUrlTemplate: template,
    deleteLocalCorefile: Boolean(values.DeleteLocalCorefile),
    compression: values.Compression as StorageSettings["compression"],
    compressionLevel: level,
  };
}

function isValidEndpoint(value: string): boolean {
  return isHttpUrl(endpointUrl(value));
}
