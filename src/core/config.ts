/**
 * Parsing and validation of CoreDog's configuration (the YAML string the
 * chart puts into ConfigMap `coredog`, key `coredog`): this module ties the
 * sections together; each section's rules live in its own module
 * (`storage_settings.ts`, `watcher_settings.ts`, `channel_settings.ts`,
 * `delivery_settings.ts`, `credentials.ts`), the key walk in
 * `config_values.ts` and the keys themselves in `config_schema.ts`.
 *
 * Pure: the caller reads the file and any credential files and passes their
 * contents in. Every problem is collected, and each names the key, the bad
 * value and the fix, because a config mistake found at 3 a.m. by a missing
 * core is the costliest kind.
 *
 * @module
 */

import {
  CRASH_LOOP_KEYS,
  type KeySpec,
  NOTIFY_KEYS,
  type SectionSpec,
  STORAGE_KEYS,
  TOP_LEVEL_KEYS,
  WATCHER_KEYS,
} from "./config_schema.ts";
import { type ChannelSettings, readChannels } from "./channel_settings.ts";
import {
  checkKeys,
  isPlainObject,
  readMapping,
  readSection,
  sectionObject,
  trimTrailingSlash,
} from "./config_values.ts";
import { parseConfigYaml } from "./config_yaml.ts";
import type { CredentialOverrides } from "./credentials.ts";
import type { CrashLoopSettings } from "./crash_loop.ts";
import { deliveryFrom, type DeliverySettings } from "./delivery_settings.ts";
import { buildStorage, type StorageSettings } from "./storage_settings.ts";
import { unknownVariables } from "./template.ts";
import { buildWatcher, type WatcherSettings } from "./watcher_settings.ts";

/** The whole validated configuration. */
export interface CoredogConfig {
  storage: StorageSettings;
  corefileDir: string;
  clusterName: string;
  messageTemplate: string;
  channels: ChannelSettings[];
  /** `CrashLoop`, also copied into every channel. */
  crashLoop: CrashLoopSettings;
  /** `Notify`, also copied into every channel. */
  notify: DeliverySettings;
  watcher: WatcherSettings;
}

/** Thrown when the configuration is invalid; `problems` lists every issue found. */
export class ConfigError extends Error {
  /** One line per problem, each naming the key and the fix. */
  readonly problems: string[];
  constructor(problems: string[], source: string) {
    super(`invalid CoreDog configuration in ${source}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** Name of the source for error messages, e.g. the file path. */
  source?: string;
  credentials?: CredentialOverrides;
}

/**
 * Parses and validates the YAML configuration text. Keys left out take
 * their defaults (`StorageConfig.S3Bucket` has none for S3 storage).
 *
 * @throws {ConfigError} listing every problem found.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): CoredogConfig {
  const source = options.source ?? "config";
  const parsed = parseConfigYaml(text);
  if (!parsed.ok) throw new ConfigError([parsed.problem], source);
  let raw = parsed.value;
  if (raw === null || raw === undefined) raw = {};
  const problems: string[] = [];
  if (!isPlainObject(raw)) {
    throw new ConfigError(["the top level must be a mapping of keys such as StorageConfig and NoticeChannel"], source);
  }

  const sections: SectionSpec = {
    ...TOP_LEVEL_KEYS,
    StorageConfig: sectionKey(),
    Watcher: sectionKey(),
    NoticeChannel: sectionKey(),
    CrashLoop: sectionKey(),
    Notify: sectionKey(),
  };
  checkKeys(raw, sections, "", problems);

  const top = readSection(raw, TOP_LEVEL_KEYS, "", problems);
  const storageValues = readMapping(raw, "StorageConfig", STORAGE_KEYS, problems);
  const watcherValues = readMapping(raw, "Watcher", WATCHER_KEYS, problems);
  const crashLoopValues = readMapping(raw, "CrashLoop", CRASH_LOOP_KEYS, problems);
  const notifyValues = readMapping(raw, "Notify", NOTIFY_KEYS, problems);
  const crashLoop: CrashLoopSettings = {
    enabled: Boolean(crashLoopValues.Enabled),
    windowMs: Number(crashLoopValues.WindowMinutes) * 60_000,
  };
  const notify = deliveryFrom(notifyValues);
  const channels = readChannels(raw.NoticeChannel, problems)
    .map((channel) => ({ ...channel, crashLoop, delivery: notify }));

  const corefileDir = String(top.CorefileDir);
  if (!corefileDir.startsWith("/")) {
    problems.push(`CorefileDir "${corefileDir}" must be an absolute path, e.g. /data/coredog-system/dumps`);
  }
  checkTemplate(String(top.messageTemplate), "messageTemplate", problems);
  for (const channel of channels) checkTemplate(channel.template, `NoticeChannel[${channel.index}].template`, problems);
  const storage = buildStorage(storageValues, {
    credentials: options.credentials ?? {},
    writtenKeys: Object.keys(sectionObject(raw, "StorageConfig", [])),
    problems,
  });
  const watcher = buildWatcher(watcherValues, corefileDir, problems);

  if (problems.length > 0) throw new ConfigError(problems, source);
  return {
    storage,
    corefileDir: trimTrailingSlash(corefileDir),
    clusterName: String(top.ClusterName),
    messageTemplate: String(top.messageTemplate),
    channels,
    crashLoop,
    notify,
    watcher,
  };
}

function checkTemplate(template: string, path: string, problems: string[]): void {
  for (const name of unknownVariables(template)) {
    problems.push(`${path} uses unknown variable {${name}}; see the README's list of template variables`);
  }
}

function sectionKey(): KeySpec {
  return { type: { kind: "stringMap" }, default: {}, doc: "" };
}
