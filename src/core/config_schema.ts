/**
 * The keys CoreDog's configuration accepts, with their types, defaults and
 * documentation. The parser, the README's key table and the chart's default
 * values are all checked against this one list.
 *
 * Key spelling follows the seed's configuration exactly (`s3AccesskeyID`,
 * `S3Bucket`, `DeleteLocalCorefile`, `NoticeChannel`, `messageTemplate`), even
 * where it is inconsistent, so that existing values files keep working.
 *
 * @module
 */

/** The type of one configuration value and how it is checked. */
export type KeyType =
  | { kind: "string" }
  | { kind: "bool" }
  | { kind: "int"; min: number; max: number }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "url" }
  | { kind: "stringList" }
  | { kind: "stringMap" };

/** One configuration key. */
export interface KeySpec {
  type: KeyType;
  /** Default value, shown in the README exactly as YAML would spell it. */
  default: string | number | boolean | string[] | Record<string, string>;
  /** One-line description for the README. */
  doc: string;
}

/** A section of keys. */
export type SectionSpec = Record<string, KeySpec>;

/** Keys under `StorageConfig`. */
export const STORAGE_KEYS: SectionSpec = {
  protocol: {
    type: { kind: "enum", values: ["s3", "cos", "oss", "cfs", "local"] },
    default: "s3",
    doc:
      "Where cores go: `s3` (also `cos`, `oss`: any S3-compatible store), or `cfs`/`local` (a directory, e.g. a mounted NFS/CFS share).",
  },
  s3AccesskeyID: {
    type: { kind: "string" },
    default: "",
    doc:
      "S3 access key id. Prefer `COREDOG_S3_ACCESS_KEY_ID` or `COREDOG_S3_ACCESS_KEY_ID_FILE` (a mounted Secret). Empty with an empty secret: the AWS SDK's default chain (IRSA, instance profile).",
  },
  s3SecretAccessKey: {
    type: { kind: "string" },
    default: "",
    doc: "S3 secret access key. Prefer `COREDOG_S3_SECRET_ACCESS_KEY` or `COREDOG_S3_SECRET_ACCESS_KEY_FILE`.",
  },
  s3Region: {
    type: { kind: "string" },
    default: "us-east-1",
    doc: "Region, e.g. `ap-nanjing` for COS, `oss-cn-hangzhou` for OSS.",
  },
  S3Bucket: {
    type: { kind: "string" },
    default: "",
    doc: "Bucket name (required for `s3`). COS bucket names carry the APPID: `name-1250000000`.",
  },
  S3Endpoint: {
    type: { kind: "string" },
    default: "",
    doc:
      "Endpoint host or URL, e.g. `cos.ap-nanjing.myqcloud.com`, `s3.oss-cn-hangzhou.aliyuncs.com`, `http://minio:9000`. Empty: AWS. `https://` is assumed without a scheme.",
  },
  S3AddressingStyle: {
    type: { kind: "enum", values: ["auto", "path", "virtual"] },
    default: "auto",
    doc:
      "`auto`: virtual-hosted for AWS, COS and OSS endpoints, path style for IP addresses, `localhost` and every other host (MinIO, Ceph). Set `path` or `virtual` to override.",
  },
  CFSMountPath: {
    type: { kind: "string" },
    default: "",
    doc: "Directory that receives cores for `cfs`/`local` (required for those protocols).",
  },
  StoreDir: {
    type: { kind: "string" },
    default: "corefiles",
    doc: "Prefix of every object key (use one per cluster to keep clusters apart).",
  },
  PresignedURLExpireSeconds: {
    type: { kind: "int", min: 1, max: 604800 },
    default: 3600,
    doc: "Lifetime of the presigned download link in `{corefile.url}`; SigV4 allows at most 604800 (7 days).",
  },
  PublicURLTemplate: {
    type: { kind: "string" },
    default: "",
    doc:
      "Instead of a presigned link, `{corefile.url}` becomes this template with `{bucket}` and `{key}` filled in, e.g. `https://cores.example.com/{key}`.",
  },
  DeleteLocalCorefile: {
    type: { kind: "bool" },
    default: true,
    doc:
      "Delete the local core once its upload is verified. With `false` the file stays and is never uploaded twice, across restarts too.",
  },
  Compression: {
    type: { kind: "enum", values: ["zstd", "gzip", "none"] },
    default: "zstd",
    doc: "Streaming compression of the stored core; the object key ends in `.core.zst`, `.core.gz` or `.core`.",
  },
  CompressionLevel: {
    type: { kind: "int", min: 0, max: 19 },
    default: 0,
    doc: "Compression level; 0 means the codec's fast default (zstd 1, gzip 1). Higher levels cost CPU on the node.",
  },
};

/** Keys under `Watcher` (new in CoreDog). */
export const WATCHER_KEYS: SectionSpec = {
  SettleMilliseconds: {
    type: { kind: "int", min: 50, max: 60000 },
    default: 50,
    doc: "After the kernel closes a core, how long its size and mtime must stay unchanged before upload.",
  },
  QuietSeconds: {
    type: { kind: "int", min: 1, max: 3600 },
    default: 10,
    doc: "For a file seen without a close event (found by a scan), how long since its last write before upload.",
  },
  TruncatedAfterSeconds: {
    type: { kind: "int", min: 1, max: 86400 },
    default: 60,
    doc:
      "A core shorter than its ELF headers promise is uploaded, marked truncated, once it has not grown for this long.",
  },
  RescanSeconds: {
    type: { kind: "int", min: 5, max: 3600 },
    default: 60,
    doc:
      "Interval of the rescan that catches files the file-system events missed; directories unchanged since they were last read are not read again, except on every tenth rescan.",
  },
  UploadConcurrency: {
    type: { kind: "int", min: 1, max: 16 },
    default: 2,
    doc: "Cores processed at once.",
  },
  RetryMaxSeconds: {
    type: { kind: "int", min: 1, max: 86400 },
    default: 300,
    doc:
      "Longest wait between retries of a failed upload (exponential backoff with jitter; retries never stop while the file exists).",
  },
  HealthPort: {
    type: { kind: "int", min: 0, max: 65535 },
    default: 9102,
    doc: "Port of `/healthz`, `/readyz` and `/metrics`; 0 turns the server off.",
  },
  StateDir: {
    type: { kind: "string" },
    default: "",
    doc: "Where the watcher remembers finished uploads; empty means `<CorefileDir>/.coredog`.",
  },
  DirMode: {
    type: { kind: "string" },
    default: "1733",
    doc:
      "Octal mode given to each new pod and container directory so that non-root apps can write cores (1733: anyone may create, nobody may list or delete others' files); empty leaves modes alone.",
  },
  Kubernetes: {
    type: { kind: "enum", values: ["auto", "off"] },
    default: "auto",
    doc:
      "`auto`: inside a cluster, enrich each core with pod facts from the API and emit a `CoreDumpCaptured` event; `off`: never call the API.",
  },
  MaxUse: {
    type: { kind: "string" },
    default: "10%",
    doc:
      "Cap on `CorefileDir`'s total size (`0` off, `4Gi`, or a share of its file system). Over it, local copies already stored are deleted, oldest first; cores not yet stored are kept.",
  },
  KeepFree: {
    type: { kind: "string" },
    default: "10%",
    doc:
      "Free space to leave on `CorefileDir`'s file system (10% is the kubelet's default eviction threshold). Under it, stored copies go first; then new cores not yet stored are dropped, newest first, with an error log, a metric and a message.",
  },
  MaxCoreSize: {
    type: { kind: "string" },
    default: "0",
    doc:
      "Largest core stored (`0` no limit, e.g. `8Gi`); a larger one is not stored, deleted from the node, logged and reported.",
  },
  MaxCoresPerContainerPerHour: {
    type: { kind: "int", min: 0, max: 100000 },
    default: 10,
    doc:
      "Crash-loop cap: the first N cores of a container in any hour are stored; later ones are deleted from the node, counted and reported but not stored. 0 means no cap.",
  },
  PodDirGraceMinutes: {
    type: { kind: "int", min: 0, max: 100000 },
    default: 60,
    doc:
      "Empty directories of pods that the Kubernetes API says are gone are removed once this old; 0 keeps them. Needs the API (never guessed).",
  },
  PodTombstoneMinutes: {
    type: { kind: "int", min: 0, max: 1440 },
    default: 15,
    doc:
      "How long the pod cache keeps a deleted pod, so that a core processed after its pod is gone (a Job pod removed by `ttlSecondsAfterFinished: 0`, a rollout, an eviction) still gets uid, image, owner, labels; 0 keeps none. Needs the API.",
  },
  DebuginfodURLs: {
    type: { kind: "string" },
    default: "",
    doc:
      "debuginfod servers, space-separated as in `DEBUGINFOD_URLS`, asked by build-id for symbols that name the frames (`{crash.frames}`); empty: frames stay `module+0xoffset`.",
  },
};

/** Top-level keys other than the sections. */
export const TOP_LEVEL_KEYS: SectionSpec = {
  CorefileDir: {
    type: { kind: "string" },
    default: "/data/coredog-system/dumps",
    doc: "The directory on the node that the cores are written to: the webhook's hostPath, watched by the watcher.",
  },
  ClusterName: {
    type: { kind: "string" },
    default: "",
    doc: "Cluster name shown in messages (`{cluster.name}`) and recorded in metadata.",
  },
  messageTemplate: {
    type: { kind: "string" },
    default: "",
    doc: "Notification text with `{variables}`; empty means the built-in template.",
  },
};

/** Keys under `CrashLoop` (new in CoreDog): one message per crash loop instead of one per crash. */
export const CRASH_LOOP_KEYS: SectionSpec = {
  Enabled: {
    type: { kind: "bool" },
    default: true,
    doc:
      "Fold repeated crashes of the same workload (or pod), container and signal into digests; `false` sends a message for every crash.",
  },
  WindowMinutes: {
    type: { kind: "int", min: 1, max: 1440 },
    default: 10,
    doc:
      "After a crash is notified, repeats within this many minutes are summed into one digest sent when the window ends; a loop that goes on gets one digest per window.",
  },
};

/** Keys under `Notify` (new in CoreDog): how hard CoreDog tries to deliver a message. */
export const NOTIFY_KEYS: SectionSpec = {
  GiveUpAfterMinutes: {
    type: { kind: "int", min: 1, max: 1440 },
    default: 30,
    doc:
      "A message not accepted within this many minutes of being queued (once the core is stored, or again after a restart) is dropped with an error log and `coredog_notifications_failed_total`; the core itself is stored either way.",
  },
  RetryMaxSeconds: {
    type: { kind: "int", min: 1, max: 3600 },
    default: 60,
    doc:
      "Longest wait between attempts after a network error, 5xx or rate-limit answer (exponential backoff with jitter; an API's `Retry-After` is honoured).",
  },
  RequestTimeoutSeconds: {
    type: { kind: "int", min: 1, max: 300 },
    default: 10,
    doc: "How long one request to a chat API may take before it counts as failed and is retried.",
  },
};

/** Channel types, as `NoticeChannel[].chan` spells them (aliases included). */
export const CHANNEL_TYPES = ["console", "wechat", "wecom", "slack", "dingtalk", "feishu", "lark", "webhook"] as const;

/** Keys every `NoticeChannel` entry accepts. */
export const CHANNEL_COMMON_KEYS: SectionSpec = {
  chan: {
    type: { kind: "enum", values: CHANNEL_TYPES },
    default: "",
    doc: "Channel type (required).",
  },
  webhookurl: {
    type: { kind: "url" },
    default: "",
    doc: "The channel's webhook URL (required except for `console`).",
  },
  keyword: {
    type: { kind: "string" },
    default: "",
    doc: "A channel gets a message only when the rendered message contains the keyword; empty means every message.",
  },
  template: {
    type: { kind: "string" },
    default: "",
    doc: "This channel's own message template; empty means `messageTemplate`.",
  },
  namespaces: {
    type: { kind: "stringList" },
    default: [],
    doc:
      "Only crashes in these namespaces (names or globs such as `team-*`); empty means every namespace. A core whose namespace is not known does not match.",
  },
  matchLabels: {
    type: { kind: "stringMap" },
    default: {},
    doc:
      "Only crashes of pods that carry every one of these labels, e.g. `{team: payments}`; empty means any pod. Needs the Kubernetes API (`Watcher.Kubernetes: auto`).",
  },
};

/** Extra keys by channel type. */
export const CHANNEL_EXTRA_KEYS: Record<string, SectionSpec> = {
  wechat: {
    msgtype: {
      type: { kind: "enum", values: ["markdown", "text"] },
      default: "markdown",
      doc:
        "WeCom message type: `markdown` (content at most 4096 bytes) or `text` (at most 2048 bytes; needed for `@all` and mobile mentions).",
    },
    mentioned_list: {
      type: { kind: "stringList" },
      default: [],
      doc: "WeCom user ids to @ (`@all` for everyone with `text`); with `markdown` each id becomes a `<@id>` mention.",
    },
    mentioned_mobile_list: {
      type: { kind: "stringList" },
      default: [],
      doc: "Mobile numbers to @ (`text` only).",
    },
  },
  dingtalk: {
    secret: {
      type: { kind: "string" },
      default: "",
      doc: "Signing secret (`SEC...`) when the robot's security setting is 加签 (sign).",
    },
  },
  feishu: {
    secret: {
      type: { kind: "string" },
      default: "",
      doc: "Signing secret when the bot's signature check (签名校验) is on.",
    },
  },
  webhook: {
    secret: {
      type: { kind: "string" },
      default: "",
      doc: "When set, each POST carries `X-CoreDog-Signature: sha256=<hex HMAC-SHA256 of the body>`.",
    },
    headers: {
      type: { kind: "stringMap" },
      default: {},
      doc: "Extra HTTP headers, e.g. `Authorization`.",
    },
  },
  slack: {},
  console: {},
};

/** The mapping sections of the configuration, in the order the README documents them; "" is the top level. */
export const CONFIG_SECTIONS: { name: string; keys: SectionSpec; doc: string }[] = [
  { name: "StorageConfig", keys: STORAGE_KEYS, doc: "Where and how cores are stored." },
  { name: "", keys: TOP_LEVEL_KEYS, doc: "Top-level keys." },
  { name: "Watcher", keys: WATCHER_KEYS, doc: "The node agent (DaemonSet)." },
  { name: "CrashLoop", keys: CRASH_LOOP_KEYS, doc: "Crash-loop digests." },
  { name: "Notify", keys: NOTIFY_KEYS, doc: "Delivery of notifications." },
];

/** Channel types that are spelled two ways. */
export const CHANNEL_ALIASES: Record<string, string> = { wecom: "wechat", lark: "feishu" };

/**
 * Keys from the original coredog chart that CoreDog does not take, with what
 * to do instead. They are errors rather than silently ignored, because a
 * user who sets them expects an effect.
 */
export const RETIRED_KEYS: Record<string, string> = {
  "StorageConfig.enabled": "CoreDog always stores cores; remove it",
  "gc": "local cleanup is StorageConfig.DeleteLocalCorefile; remove it",
  "gc_type": "local cleanup is StorageConfig.DeleteLocalCorefile; remove it",
  "messageLabels": "put fixed text into messageTemplate instead",
  "CustomHandler": "use a NoticeChannel with chan: webhook to call your own system",
  "CoreSight": "not supported; use a NoticeChannel with chan: webhook",
};
