/**
 * The S3 credentials: from `StorageConfig`, or from the environment or a
 * mounted Secret file (read by the caller), never from both.
 *
 * @module
 */

import { STORAGE_KEYS } from "./config_schema.ts";
import { suggestKey } from "./key_suggestions.ts";

/** Where a credential came from; logged at start (never the value). */
export type CredentialSource = "config" | "env" | "file" | "default-chain";

/** Credentials supplied outside the config text (environment or Secret files). */
export interface CredentialOverrides {
  accessKeyId?: { value: string; source: "env" | "file" };
  secretAccessKey?: { value: string; source: "env" | "file" };
}

/** The credentials the S3 client gets. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  credentialSource: CredentialSource;
}

/** The `StorageConfig` keys that hold credentials, as the schema spells them. */
const CREDENTIAL_KEYS = ["s3AccesskeyID", "s3SecretAccessKey"];

/**
 * The credentials in effect: `overrides` when any is given (a problem when
 * the config sets them too), else the configured ones.
 */
export function mergeCredentials(
  configured: { accessKeyId: string; secretAccessKey: string },
  overrides: CredentialOverrides,
  problems: string[],
): S3Credentials {
  if (!overrides.accessKeyId && !overrides.secretAccessKey) return { ...configured, credentialSource: "config" };
  if (configured.accessKeyId || configured.secretAccessKey) {
    problems.push(
      "S3 credentials are set both in StorageConfig and in the environment or a Secret file; keep one source (the Secret is recommended) and empty StorageConfig.s3AccesskeyID and s3SecretAccessKey",
    );
  }
  return {
    accessKeyId: overrides.accessKeyId?.value ?? "",
    secretAccessKey: overrides.secretAccessKey?.value ?? "",
    credentialSource: overrides.accessKeyId?.source ?? overrides.secretAccessKey?.source ?? "env",
  };
}

/**
 * Checks that the S3 key id and secret come as a pair; an empty pair means
 * the AWS SDK's default chain. `writtenKeys` are the keys of
 * `StorageConfig` as written: when one of them is a misspelled credential
 * key, that is already reported as an unknown key and the half pair it
 * leaves is not reported again (it would send the reader the wrong way).
 */
export function checkCredentialPair(
  credentials: S3Credentials,
  writtenKeys: string[],
  problems: string[],
): S3Credentials {
  const { accessKeyId, secretAccessKey } = credentials;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey) && !misspellsCredentialKey(writtenKeys)) {
    problems.push(
      "only one of the S3 access key id and secret access key is set; set both, or neither to use the AWS SDK's default credential chain",
    );
  }
  if (!accessKeyId && !secretAccessKey) return { ...credentials, credentialSource: "default-chain" };
  return credentials;
}

function misspellsCredentialKey(writtenKeys: string[]): boolean {
  const known = Object.keys(STORAGE_KEYS);
  return writtenKeys.some((key) => {
    if (key in STORAGE_KEYS) return false;
    const suggestion = suggestKey(key, known);
    return suggestion !== undefined && CREDENTIAL_KEYS.includes(suggestion.key);
  });
}
