import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../src/core/config.ts";
import { loadConfigFile, readCredentials } from "../src/config_file.ts";

/** The configuration block of the seed's values.yaml, verbatim. */
const SEED_CONFIG = `StorageConfig:
  # ⚠️ S3 配置（必填）
  s3AccesskeyID: "YOUR_ACCESS_KEY"
  s3SecretAccessKey: "YOUR_SECRET_KEY"
  s3Region: "ap-nanjing"
  S3Bucket: "your-bucket"
  S3Endpoint: "cos.ap-nanjing.myqcloud.com"
  
  # 上传后删除本地文件（强烈推荐）
  DeleteLocalCorefile: true

# ⚠️ 通知渠道（至少配置一个）
NoticeChannel:
  - chan: wechat
    webhookurl: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=YOUR_KEY"
`;

function problemsOf(text: string): string[] {
  try {
    parseConfig(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error.problems;
  }
  throw new Error("expected the configuration to be rejected");
}

Deno.test("the seed's configuration example parses with its values", () => {
  const config = parseConfig(SEED_CONFIG);
  assert.deepEqual(config.storage.protocol, "s3");
  assert.deepEqual(config.storage.accessKeyId, "YOUR_ACCESS_KEY");
  assert.deepEqual(config.storage.region, "ap-nanjing");
  assert.deepEqual(config.storage.bucket, "your-bucket");
  assert.deepEqual(config.storage.endpoint, "cos.ap-nanjing.myqcloud.com");
  assert.deepEqual(config.storage.deleteLocalCorefile, true);
  assert.deepEqual(config.channels.length, 1);
  assert.deepEqual(config.channels[0].chan, "wechat");
  assert.deepEqual(config.corefileDir, "/data/coredog-system/dumps");
});

Deno.test("the seed's notification examples and custom message parse", () => {
  const config = parseConfig(`${SEED_CONFIG}
messageTemplate: |
  🚨 应用崩溃
  Pod: {pod.namespace}/{pod.name}
  节点: {pod.node}
  文件: {corefile.filename}
  下载: {corefile.url}
`.replace(
    "NoticeChannel:\n",
    `NoticeChannel:
  - chan: slack
    webhookurl: "https://hooks.slack.com/services/xxx"
  - chan: wechat
    webhookurl: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=PROD"
    keyword: "production"
`,
  ));
  assert.deepEqual(config.channels.map((c) => c.chan), ["slack", "wechat", "wechat"]);
  assert.deepEqual(config.channels[1].keyword, "production");
  assert.match(config.messageTemplate, /\{corefile\.url\}/);
});

Deno.test("a mis-cased key is an error naming the key and the right spelling", () => {
  const problems = problemsOf("StorageConfig:\n  S3Bucket: b\n  deleteLocalCorefile: true\n");
  assert.deepEqual(problems, [
    "unknown key StorageConfig.deleteLocalCorefile: keys are case-sensitive, write StorageConfig.DeleteLocalCorefile",
  ]);
});

Deno.test("a misspelt key gets a suggestion; a foreign one lists the known keys", () => {
  const problems = problemsOf("StorageConfig:\n  S3Bucket: b\n  S3Bucker: c\nNoticeChanel: []\n");
  assert(
    problems.includes("unknown key StorageConfig.S3Bucker: did you mean StorageConfig.S3Bucket?"),
    problems.join("\n"),
  );
  assert(problems.includes("unknown key NoticeChanel: did you mean NoticeChannel?"), problems.join("\n"));
  const foreign = problemsOf("StorageConfig:\n  S3Bucket: b\n  colour: red\n");
  assert.match(foreign[0], /^unknown key StorageConfig\.colour; known keys here: protocol, s3AccesskeyID/);
});

Deno.test("keys of the original chart that do nothing here are errors with the replacement", () => {
  const problems = problemsOf("StorageConfig:\n  S3Bucket: b\n  enabled: true\ngc: false\ngc_type: rm\n");
  assert.deepEqual(problems, [
    "gc is not a CoreDog key: local cleanup is StorageConfig.DeleteLocalCorefile; remove it",
    "gc_type is not a CoreDog key: local cleanup is StorageConfig.DeleteLocalCorefile; remove it",
    "StorageConfig.enabled is not a CoreDog key: CoreDog always stores cores; remove it",
  ]);
});

Deno.test("bad values name the key, the value and the fix; every problem is reported at once", () => {
  const problems = problemsOf(`StorageConfig:
  S3Bucket: b
  DeleteLocalCorefile: yes
  PresignedURLExpireSeconds: 700000
  Compression: ZSTD
Watcher:
  DirMode: 755x
NoticeChannel:
  - chan: teams
    webhookurl: https://x.example
  - chan: slack
    webhookurl: "not a url"
  - chan: slack
`);
  assert.deepEqual(problems, [
    "StorageConfig.PresignedURLExpireSeconds 700000 is out of range; use 1 to 604800",
    'StorageConfig.DeleteLocalCorefile must be true or false, got "yes"',
    'StorageConfig.Compression "ZSTD" must be lower-case: zstd',
    'NoticeChannel[0].chan "teams" is not a channel type; use one of console, wechat, wecom, slack, dingtalk, feishu, lark, webhook',
    'NoticeChannel[1].webhookurl "not a url" is not an http(s) URL',
    "NoticeChannel[2] (slack) needs a webhookurl",
    'Watcher.DirMode "755x" is not an octal mode; write it quoted, e.g. "1733", or "" to leave modes alone',
  ]);
});

Deno.test("an unknown template variable is a startup error naming it", () => {
  const problems = problemsOf('StorageConfig:\n  S3Bucket: b\nmessageTemplate: "{pod.name} {pod.nmae}"\n');
  assert.deepEqual(problems, [
    "messageTemplate uses unknown variable {pod.nmae}; see the README's list of template variables",
  ]);
});

Deno.test("S3 needs a bucket; the bucket's own domain as endpoint is caught", () => {
  assert.deepEqual(problemsOf("StorageConfig:\n  protocol: cos\n"), [
    'StorageConfig.S3Bucket is required with protocol "cos"; set the bucket name',
  ]);
  assert.deepEqual(
    problemsOf(
      "StorageConfig:\n  S3Bucket: cores-1250000000\n  S3Endpoint: cores-1250000000.cos.ap-nanjing.myqcloud.com\n",
    ),
    [
      'StorageConfig.S3Endpoint "cores-1250000000.cos.ap-nanjing.myqcloud.com" starts with the bucket name; give the region endpoint (e.g. cos.ap-nanjing.myqcloud.com) and the bucket in S3Bucket',
    ],
  );
});

Deno.test("invalid YAML and a non-mapping top level are clear errors", () => {
  assert.deepEqual(problemsOf("CorefileDir: /data\nWatcher:\n  QuietSeconds: 2: 3\n"), [
    'not valid YAML at line 3, column 17 ("QuietSeconds: 2: 3"): Nested mappings are not allowed in compact mappings',
  ]);
  assert.deepEqual(problemsOf("StorageConfig:\n\tS3Bucket: b\n"), [
    'not valid YAML at line 2, column 1 ("S3Bucket: b"): Tabs are not allowed as indentation',
  ]);
  for (const text of ["StorageConfig: [1,\n", "a: b\n  c: d\n", 'x: "open\n']) {
    const [problem] = problemsOf(text);
    assert.match(problem, /^not valid YAML at line \d+, column \d+ \(.+\): \S/, problem);
    assert.doesNotMatch(problem, /:$|\n/, "one line, no dangling colon");
  }
  assert.deepEqual(problemsOf("- a\n- b\n"), [
    "the top level must be a mapping of keys such as StorageConfig and NoticeChannel",
  ]);
});

Deno.test("defaults: keys left out take their documented defaults", () => {
  const config = parseConfig("StorageConfig:\n  S3Bucket: b\n");
  assert.deepEqual(config.storage.storeDir, "corefiles");
  assert.deepEqual(config.storage.presignedUrlExpireSeconds, 3600);
  assert.deepEqual(config.storage.compression, "zstd");
  assert.deepEqual(config.storage.credentialSource, "default-chain");
  assert.deepEqual(config.watcher.stateDir, "/data/coredog-system/dumps/.coredog");
  assert.deepEqual(config.watcher.dirMode, 0o1733);
  assert.deepEqual(config.watcher.settleMs, 50);
});

Deno.test("credentials from the environment or a Secret file replace empty config values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/secret`, "s3cr3t\n");
    await Deno.writeTextFile(`${dir}/coredog.yaml`, "StorageConfig:\n  S3Bucket: b\n");
    const env: Record<string, string> = {
      COREDOG_S3_ACCESS_KEY_ID: "AKID",
      COREDOG_S3_SECRET_ACCESS_KEY_FILE: `${dir}/secret`,
    };
    const config = await loadConfigFile(`${dir}/coredog.yaml`, { env: (n) => env[n] });
    assert.deepEqual(config.storage.accessKeyId, "AKID");
    assert.deepEqual(config.storage.secretAccessKey, "s3cr3t");
    assert.deepEqual(config.storage.credentialSource, "env");

    await Deno.writeTextFile(
      `${dir}/both.yaml`,
      'StorageConfig:\n  S3Bucket: b\n  s3AccesskeyID: "X"\n  s3SecretAccessKey: "Y"\n',
    );
    const error = await loadConfigFile(`${dir}/both.yaml`, { env: (n) => env[n] }).catch((e) => e);
    assert(error instanceof ConfigError);
    assert.match(error.problems[0], /set both in StorageConfig and in the environment/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("credential variables: both forms at once, or an empty file, are errors", async () => {
  await assertRejectsWith(
    readCredentials((n) =>
      ({ COREDOG_S3_ACCESS_KEY_ID: "a", COREDOG_S3_ACCESS_KEY_ID_FILE: "/x" } as Record<string, string>)[n]
    ),
    "set COREDOG_S3_ACCESS_KEY_ID or COREDOG_S3_ACCESS_KEY_ID_FILE, not both",
  );
  const file = await Deno.makeTempFile();
  await assertRejectsWith(
    readCredentials((n) => n === "COREDOG_S3_SECRET_ACCESS_KEY_FILE" ? file : undefined),
    `COREDOG_S3_SECRET_ACCESS_KEY_FILE ${file} is empty`,
  );
  await Deno.remove(file);
});

Deno.test("a missing config file names the file and how to point at another", async () => {
  await assertRejectsWith(
    loadConfigFile("/nonexistent/coredog.yaml", { env: () => undefined }),
    /^cannot read the configuration file \/nonexistent\/coredog\.yaml: .*; pass --config <file> or set COREDOG_CONFIG$/,
  );
});

Deno.test("a misspelled credential key is reported alone, with the right spelling", () => {
  assert.deepEqual(problemsOf("StorageConfig:\n  S3Bucket: b\n  s3AccesskeyId: x\n  s3SecretAccessKey: y\n"), [
    "unknown key StorageConfig.s3AccesskeyId: keys are case-sensitive, write StorageConfig.s3AccesskeyID",
  ]);
  assert.deepEqual(problemsOf("StorageConfig:\n  S3Bucket: b\n  s3AccesskeyID: x\n  s3SecretAcessKey: y\n"), [
    "unknown key StorageConfig.s3SecretAcessKey: did you mean StorageConfig.s3SecretAccessKey?",
  ]);
});

Deno.test("only one of key id and secret is an error", () => {
  assert.throws(
    () => parseConfig("StorageConfig:\n  S3Bucket: b\n  s3AccesskeyID: x\n"),
    (error: ConfigError) =>
      error.problems[0].startsWith("only one of the S3 access key id and secret access key is set"),
  );
});

async function assertRejectsWith(promise: Promise<unknown>, expected: string | RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e) => e as Error);
  if (!error) throw new Error("expected a rejection");
  if (typeof expected === "string") assert.deepEqual(error.message, expected);
  else assert.match(error.message, expected);
}
