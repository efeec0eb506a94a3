/**
 * Parsing and validation of CoreDog's configuration (the YAML string the
 * chart puts into ConfigMap `coredog`, key `coredog`).
 *
 * Pure: the caller reads the file and any credential files and passes their
 * contents in. Every problem is collected, and each names the key, the bad
 * value and the fix, because a config mistake found at 3 a.m. by a missing
 * core is the costliest kind.
 *
 * @module
 */

import { parse as parseYaml, YAMLError } from "yaml";
import {
  CHANNEL_ALIASES,
  CHANNEL_COMMON_KEYS,
  CHANNEL_EXTRA_KEYS,
  CHANNEL_TYPES,
  CRASH_LOOP_KEYS,
  type KeySpec,
  NOTIFY_KEYS,
  RETIRED_KEYS,
  type SectionSpec,
  STORAGE_KEYS,
  TOP_LEVEL_KEYS,
  WATCHER_KEYS,
} from "./config_schema.ts";
import type { CrashLoopSettings } from "./crash_loop.ts";
import { endpointIncludesBucket, endpointUrl } from "./s3_endpoint.ts";
import { parseSize, type SizeSpec } from "./size_spec.ts";
import { unknownVariables } from "./template.ts";

/** Where a credential came from; logged at start (never the value). */
export type CredentialSource = "config" | "env" | "file" | "default-chain";

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

/** Watcher settings, from `Watcher`. */
export interface WatcherSettings {
  settleMs: number;
  quietMs: number;
  truncatedAfterMs: number;
  rescanMs: number;
  uploadConcurrency: number;
  retryMaxMs: number;
  healthPort: number;
  stateDir: string;
  /** Mode for new pod and container directories, or undefined to leave them alone. */
  dirMode: number | undefined;
  kubernetes: "auto" | "off";
  /** Cap on the dump root's total size. */
  maxUse: SizeSpec;
  /** Free space to leave on the dump root's file system. */
  keepFree: SizeSpec;
  /** Largest core stored, bytes; undefined means no limit. */
  maxCoreBytes: number | undefined;
  /** Cores stored per container per hour; 0 means no cap. */
  maxCoresPerContainerPerHour: number;
  /** Age after which empty directories of gone pods are removed, ms; 0 keeps them. */
  podDirGraceMs: number;
}

/** How hard messages are delivered, from `Notify`. */
export interface DeliverySettings {
  /** A message not accepted this long after it was queued (once its core is stored) is given up, ms. */
  giveUpAfterMs: number;
  /** Longest backoff between attempts, ms. */
  retryMaxMs: number;
  /** Longest time one request may take, ms. */
  requestTimeoutMs: number;
}

/** {@linkcode DeliverySettings} when `Notify` is empty. */
export const DEFAULT_DELIVERY: DeliverySettings = deliveryFrom({
  GiveUpAfterMinutes: NOTIFY_KEYS.GiveUpAfterMinutes.default,
  RetryMaxSeconds: NOTIFY_KEYS.RetryMaxSeconds.default,
  RequestTimeoutSeconds: NOTIFY_KEYS.RequestTimeoutSeconds.default,
});

/** `Notify` values (minutes and seconds, as configured) in the milliseconds the dispatcher uses. */
function deliveryFrom(values: Record<string, unknown>): DeliverySettings {
  return {
    giveUpAfterMs: Number(values.GiveUpAfterMinutes) * 60_000,
    retryMaxMs: Number(values.RetryMaxSeconds) * 1000,
    requestTimeoutMs: Number(values.RequestTimeoutSeconds) * 1000,
  };
}

/** One notification channel, from a `NoticeChannel` entry. */
export interface ChannelSettings {
  /** Position in `NoticeChannel`, for messages such as "NoticeChannel[2]". */
  index: number;
  /** Channel type with aliases resolved (`wecom` is `wechat`, `lark` is `feishu`). */
  chan: string;
  webhookurl: string;
  keyword: string;
  template: string;
  /** Channel-specific keys (see `CHANNEL_EXTRA_KEYS`), defaults filled in. */
  options: Record<string, unknown>;
  /** From `CrashLoop` (the same for every channel); absent: every crash gets its own message. */
  crashLoop?: CrashLoopSettings;
  /** From `Notify` (the same for every channel); absent: {@linkcode DEFAULT_DELIVERY}. */
  delivery?: DeliverySettings;
}

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

/** Credentials supplied outside the config text (environment or Secret files). */
export interface CredentialOverrides {
  accessKeyId?: { value: string; source: "env" | "file" };
  secretAccessKey?: { value: string; source: "env" | "file" };
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
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    // Only the parser's own errors are about the text (a missing permission is not).
    if (!(error instanceof YAMLError)) throw error;
    throw new ConfigError([`not valid YAML: ${error.message.split("\n")[0]}`], source);
  }
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
  const storage = buildStorage(storageValues, options.credentials ?? {}, problems);
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

function buildStorage(
  values: Record<string, unknown>,
  credentials: CredentialOverrides,
  problems: string[],
): StorageSettings {
  const protocolName = String(values.protocol);
  const protocol = protocolName === "cfs" || protocolName === "local" ? "local" : "s3";
  let accessKeyId = String(values.s3AccesskeyID);
  let secretAccessKey = String(values.s3SecretAccessKey);
  let credentialSource: CredentialSource = "config";
  if (credentials.accessKeyId || credentials.secretAccessKey) {
    if (accessKeyId || secretAccessKey) {
      problems.push(
        "S3 credentials are set both in StorageConfig and in the environment or a Secret file; keep one source (the Secret is recommended) and empty StorageConfig.s3AccesskeyID and s3SecretAccessKey",
      );
    }
    accessKeyId = credentials.accessKeyId?.value ?? "";
    secretAccessKey = credentials.secretAccessKey?.value ?? "";
    credentialSource = credentials.accessKeyId?.source ?? credentials.secretAccessKey?.source ?? "env";
  }
  if (protocol === "s3") {
    if (!values.S3Bucket) {
      problems.push(`StorageConfig.S3Bucket is required with protocol "${protocolName}"; set the bucket name`);
    }
    if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
      problems.push(
        "only one of the S3 access key id and secret access key is set; set both, or neither to use the AWS SDK's default credential chain",
      );
    }
    if (!accessKeyId && !secretAccessKey) credentialSource = "default-chain";
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
    accessKeyId,
    secretAccessKey,
    credentialSource,
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

function buildWatcher(values: Record<string, unknown>, corefileDir: string, problems: string[]): WatcherSettings {
  const modeText = String(values.DirMode);
  let dirMode: number | undefined;
  if (modeText !== "") {
    if (!/^[0-7]{3,4}$/.test(modeText)) {
      problems.push(
        `Watcher.DirMode "${modeText}" is not an octal mode; write it quoted, e.g. "1733", or "" to leave modes alone`,
      );
    } else {
      dirMode = parseInt(modeText, 8);
    }
  }
  const sizes: Record<string, SizeSpec> = {};
  for (const key of ["MaxUse", "KeepFree", "MaxCoreSize"]) {
    const parsed = parseSize(String(values[key]));
    if (parsed.ok) sizes[key] = parsed.size;
    else problems.push(`Watcher.${key}: ${parsed.reason}`);
  }
  if (sizes.MaxCoreSize?.kind === "percent") {
    problems.push(
      'Watcher.MaxCoreSize must be a size such as 8Gi, not a share of the file system, or "0" for no limit',
    );
  }
  const stateDir = String(values.StateDir) || `${trimTrailingSlash(corefileDir)}/.coredog`;
  if (!stateDir.startsWith("/")) problems.push(`Watcher.StateDir "${stateDir}" must be an absolute path`);
  return {
    settleMs: Number(values.SettleMilliseconds),
    quietMs: Number(values.QuietSeconds) * 1000,
    truncatedAfterMs: Number(values.TruncatedAfterSeconds) * 1000,
    rescanMs: Number(values.RescanSeconds) * 1000,
    uploadConcurrency: Number(values.UploadConcurrency),
    retryMaxMs: Number(values.RetryMaxSeconds) * 1000,
    healthPort: Number(values.HealthPort),
    stateDir,
    dirMode,
    kubernetes: values.Kubernetes as WatcherSettings["kubernetes"],
    maxUse: sizes.MaxUse ?? { kind: "off" },
    keepFree: sizes.KeepFree ?? { kind: "off" },
    maxCoreBytes: sizes.MaxCoreSize?.kind === "bytes" ? sizes.MaxCoreSize.bytes : undefined,
    maxCoresPerContainerPerHour: Number(values.MaxCoresPerContainerPerHour),
    podDirGraceMs: Number(values.PodDirGraceMinutes) * 60_000,
  };
}

function readChannels(raw: unknown, problems: string[]): ChannelSettings[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.push("NoticeChannel must be a list, e.g. NoticeChannel: [{chan: wechat, webhookurl: ...}]");
    return [];
  }
  const channels: ChannelSettings[] = [];
  raw.forEach((entry, index) => {
    const where = `NoticeChannel[${index}]`;
    if (!isPlainObject(entry)) {
      problems.push(`${where} must be a mapping with chan and webhookurl`);
      return;
    }
    const chanRaw = entry.chan;
    const chan = typeof chanRaw === "string" ? (CHANNEL_ALIASES[chanRaw] ?? chanRaw) : "";
    const extra = CHANNEL_EXTRA_KEYS[chan];
    if (!extra) {
      const allowed = CHANNEL_TYPES.join(", ");
      problems.push(
        chanRaw === undefined
          ? `${where}.chan is required; one of ${allowed}`
          : `${where}.chan "${String(chanRaw)}" is not a channel type; use one of ${allowed}`,
      );
      return;
    }
    const spec = { ...CHANNEL_COMMON_KEYS, ...extra };
    const before = problems.length;
    checkKeys(entry, spec, `${where}.`, problems);
    const values = readSection(entry, spec, `${where}.`, problems);
    if (problems.length > before) return;
    const webhookurl = String(values.webhookurl);
    if (chan === "console" && webhookurl) {
      problems.push(`${where} (console) takes no webhookurl; remove it`);
    } else if (chan !== "console" && !webhookurl) {
      problems.push(`${where} (${chan}) needs a webhookurl`);
    }
    const options: Record<string, unknown> = {};
    for (const key of Object.keys(extra)) options[key] = values[key];
    checkChannelOptions(chan, webhookurl, options, where, problems);
    channels.push({
      index,
      chan,
      webhookurl,
      keyword: String(values.keyword),
      template: String(values.template),
      options,
    });
  });
  return channels;
}

/** Settings that parse but cannot work with the API they are for. */
function checkChannelOptions(
  chan: string,
  webhookurl: string,
  options: Record<string, unknown>,
  where: string,
  problems: string[],
): void {
  const host = isHttpUrl(webhookurl) ? new URL(webhookurl).hostname : "";
  if (chan === "wechat") {
    if (options.msgtype === "markdown") {
      if ((options.mentioned_mobile_list as string[]).length > 0) {
        problems.push(
          `${where}.mentioned_mobile_list needs msgtype: text; WeCom markdown cannot mention by mobile number`,
        );
      }
      if ((options.mentioned_list as string[]).includes("@all")) {
        problems.push(`${where}.mentioned_list "@all" needs msgtype: text; WeCom markdown cannot mention everyone`);
      }
    }
    if (host === "qyapi.weixin.qq.com" && !new URL(webhookurl).searchParams.get("key")) {
      problems.push(`${where}.webhookurl has no ?key=; copy the robot's whole webhook address`);
    }
  }
  if (chan === "dingtalk" && host === "oapi.dingtalk.com" && !new URL(webhookurl).searchParams.get("access_token")) {
    problems.push(`${where}.webhookurl has no ?access_token=; copy the robot's whole webhook address`);
  }
  if (chan === "webhook") {
    for (const [name, value] of Object.entries(options.headers as Record<string, string>)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
        problems.push(`${where}.headers "${name}" is not a valid HTTP header name`);
      } else if (/[\r\n\0]/.test(value)) {
        problems.push(`${where}.headers.${name} must be one line`);
      }
    }
  }
}

function checkTemplate(template: string, path: string, problems: string[]): void {
  for (const name of unknownVariables(template)) {
    problems.push(`${path} uses unknown variable {${name}}; see the README's list of template variables`);
  }
}

function sectionKey(): KeySpec {
  return { type: { kind: "stringMap" }, default: {}, doc: "" };
}

/** The values of section `name`, its unknown keys reported. */
function readMapping(
  raw: Record<string, unknown>,
  name: string,
  spec: SectionSpec,
  problems: string[],
): Record<string, unknown> {
  const section = sectionObject(raw, name, problems);
  checkKeys(section, spec, `${name}.`, problems);
  return readSection(section, spec, `${name}.`, problems);
}

function sectionObject(raw: Record<string, unknown>, name: string, problems: string[]): Record<string, unknown> {
  const value = raw[name];
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    problems.push(`${name} must be a mapping of keys`);
    return {};
  }
  return value;
}

/** Reports unknown, mis-cased and retired keys. */
function checkKeys(raw: Record<string, unknown>, spec: SectionSpec, prefix: string, problems: string[]): void {
  const known = Object.keys(spec);
  for (const key of Object.keys(raw)) {
    if (key in spec) continue;
    const path = `${prefix}${key}`;
    const retired = RETIRED_KEYS[path];
    if (retired) {
      problems.push(`${path} is not a CoreDog key: ${retired}`);
      continue;
    }
    const sameLetters = known.find((k) => k.toLowerCase() === key.toLowerCase());
    if (sameLetters) {
      problems.push(`unknown key ${path}: keys are case-sensitive, write ${prefix}${sameLetters}`);
      continue;
    }
    const near = known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
    problems.push(
      near
        ? `unknown key ${path}: did you mean ${prefix}${near}?`
        : `unknown key ${path}; known keys here: ${known.join(", ")}`,
    );
  }
}

/** Reads each key of a section, applying defaults and type checks. */
function readSection(
  raw: Record<string, unknown>,
  spec: SectionSpec,
  prefix: string,
  problems: string[],
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, keySpec] of Object.entries(spec)) {
    const value = raw[key];
    values[key] = value === undefined || value === null
      ? keySpec.default
      : checkValue(value, keySpec, `${prefix}${key}`, problems);
  }
  return values;
}

function checkValue(value: unknown, spec: KeySpec, path: string, problems: string[]): unknown {
  const type = spec.type;
  switch (type.kind) {
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number") return String(value);
      problems.push(`${path} must be a string, got ${describe(value)}`);
      return spec.default;
    case "url":
      if (typeof value !== "string") {
        problems.push(`${path} must be a URL string, got ${describe(value)}`);
        return spec.default;
      }
      if (value !== "" && !isHttpUrl(value)) {
        problems.push(`${path} "${value}" is not an http(s) URL`);
        return spec.default;
      }
      return value;
    case "bool":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      problems.push(`${path} must be true or false, got ${describe(value)}`);
      return spec.default;
    case "int": {
      const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isInteger(n)) {
        problems.push(`${path} must be a whole number, got ${describe(value)}`);
        return spec.default;
      }
      if (n < type.min || n > type.max) {
        problems.push(`${path} ${n} is out of range; use ${type.min} to ${type.max}`);
        return spec.default;
      }
      return n;
    }
    case "enum":
      if (typeof value === "string" && type.values.includes(value)) return value;
      {
        const lower = typeof value === "string" ? type.values.find((v) => v === value.toLowerCase()) : undefined;
        problems.push(
          lower
            ? `${path} "${String(value)}" must be lower-case: ${lower}`
            : `${path} ${describe(value)} is not one of ${type.values.join(", ")}`,
        );
      }
      return spec.default;
    case "stringList":
      if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
      if (Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number")) {
        return value.map(String);
      }
      problems.push(`${path} must be a list of strings, got ${describe(value)}`);
      return spec.default;
    case "stringMap":
      if (isPlainObject(value) && Object.values(value).every((v) => typeof v === "string" || typeof v === "number")) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
      }
      problems.push(`${path} must be a mapping of strings, got ${describe(value)}`);
      return spec.default;
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (Array.isArray(value)) return "a list";
  if (isPlainObject(value)) return "a mapping";
  return String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

function isValidEndpoint(value: string): boolean {
  return isHttpUrl(endpointUrl(value));
}

function trimTrailingSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}
