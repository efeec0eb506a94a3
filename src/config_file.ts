/**
 * Loads the configuration file and the credentials that may sit outside
 * it (environment variables or files mounted from a Secret), then hands
 * both to the pure parser.
 *
 * @module
 */

import { type CoredogConfig, parseConfig } from "./core/config.ts";
import type { CredentialOverrides } from "./core/credentials.ts";

/** Where the chart mounts ConfigMap `coredog`. */
export const DEFAULT_CONFIG_PATH = "/etc/coredog/coredog.yaml";

/** Environment variables that can carry the S3 credentials. */
const CREDENTIAL_ENV = {
  accessKeyId: "COREDOG_S3_ACCESS_KEY_ID",
  secretAccessKey: "COREDOG_S3_SECRET_ACCESS_KEY",
} as const;

/** Options of {@linkcode loadConfigFile}. */
export interface LoadConfigOptions {
  /** Reads an environment variable; `Deno.env.get` by default. */
  env?: (name: string) => string | undefined;
}

/**
 * Reads and validates the configuration at `path`.
 *
 * @throws {ConfigError} for an invalid configuration, or an Error naming
 * the file when it cannot be read.
 */
export async function loadConfigFile(path: string, options: LoadConfigOptions = {}): Promise<CoredogConfig> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(
      `cannot read the configuration file ${path}: ${
        (error as Error).message
      }; pass --config <file> or set COREDOG_CONFIG`,
    );
  }
  return parseConfig(text, { source: path, credentials: await readCredentials(env) });
}

/** Credentials from `COREDOG_S3_*` variables or the files `COREDOG_S3_*_FILE` name. */
export async function readCredentials(env: (name: string) => string | undefined): Promise<CredentialOverrides> {
  const result: CredentialOverrides = {};
  for (const [field, name] of Object.entries(CREDENTIAL_ENV) as [keyof CredentialOverrides, string][]) {
    const direct = env(name);
    const file = env(`${name}_FILE`);
    if (direct && file) throw new Error(`set ${name} or ${name}_FILE, not both`);
    if (direct) {
      result[field] = { value: direct, source: "env" };
    } else if (file) {
      let value: string;
      try {
        value = (await Deno.readTextFile(file)).trim();
      } catch (error) {
        throw new Error(`cannot read ${name}_FILE ${file}: ${(error as Error).message}`);
      }
      if (!value) throw new Error(`${name}_FILE ${file} is empty`);
      result[field] = { value, source: "file" };
    }
  }
  return result;
}
