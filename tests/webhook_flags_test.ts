import assert from "node:assert/strict";
import { parseWebhookFlags, WEBHOOK_FLAGS, webhookUsage } from "../src/webhook/flags.ts";
import { exitWithin, runDeno } from "./support/process.ts";
import { taskRunArgs } from "./support/tasks.ts";

const noEnv = () => undefined;

Deno.test("with no flags the webhook uses the chart's paths and port 8443", () => {
  assert.deepEqual(parseWebhookFlags([], noEnv), {
    help: false,
    configPath: "/etc/coredog/coredog.yaml",
    port: 8443,
    hostname: "0.0.0.0",
    certFile: "/etc/coredog-webhook/tls/tls.crt",
    keyFile: "/etc/coredog-webhook/tls/tls.key",
    healthPort: 9103,
    shutdownDelaySeconds: 2,
    tlsMode: "files",
    tlsSecret: "coredog-webhook-tls",
    namespace: "",
    kubeconfig: "",
    service: "coredog-webhook",
    webhookConfiguration: "coredog",
    caValidityDays: 3650,
    certValidityDays: 365,
    tlsCheckIntervalSeconds: 300,
  });
});

Deno.test("the chart's self-managed TLS settings come from the environment", () => {
  const env: Record<string, string> = {
    COREDOG_WEBHOOK_TLS_MODE: "self-managed",
    COREDOG_WEBHOOK_TLS_SECRET: "my-tls",
    COREDOG_WEBHOOK_NAMESPACE: "ops",
    COREDOG_WEBHOOK_SERVICE: "my-webhook",
    COREDOG_WEBHOOK_CONFIGURATION: "my-coredog",
    COREDOG_WEBHOOK_TLS_CA_DAYS: "730",
    COREDOG_WEBHOOK_TLS_CERT_DAYS: "30",
    COREDOG_WEBHOOK_TLS_CHECK_INTERVAL_SECONDS: "60",
  };
  const flags = parseWebhookFlags(["--tls-cert-days", "90"], (name) => env[name]);
  assert.equal(flags.tlsMode, "self-managed");
  assert.equal(flags.tlsSecret, "my-tls");
  assert.equal(flags.namespace, "ops");
  assert.equal(flags.service, "my-webhook");
  assert.equal(flags.webhookConfiguration, "my-coredog");
  assert.equal(flags.caValidityDays, 730);
  assert.equal(flags.certValidityDays, 90);
  assert.equal(flags.tlsCheckIntervalSeconds, 60);
  assert.throws(
    () => parseWebhookFlags(["--tls-mode", "auto"], noEnv),
    /--tls-mode must be one of files, self-managed/,
  );
  assert.throws(
    () => parseWebhookFlags(["--tls-ca-days", "0.5"], noEnv),
    /--tls-ca-days must be a whole number of days/,
  );
  assert.throws(() => parseWebhookFlags(["--tls-check-interval", "0"], noEnv), /at least 1 second/);
});

Deno.test("environment variables set the webhook up, and a flag beats its variable", () => {
  const env: Record<string, string> = {
    COREDOG_CONFIG: "/cfg/coredog.yaml",
    COREDOG_WEBHOOK_PORT: "9443",
    COREDOG_WEBHOOK_TLS_CERT: "/tls/cert.pem",
    COREDOG_WEBHOOK_TLS_KEY: "/tls/key.pem",
    COREDOG_WEBHOOK_HEALTH_PORT: "0",
  };
  const flags = parseWebhookFlags(["--port=10443", "--tls-key", "/other/key.pem"], (name) => env[name]);
  assert.equal(flags.configPath, "/cfg/coredog.yaml");
  assert.equal(flags.port, 10443);
  assert.equal(flags.certFile, "/tls/cert.pem");
  assert.equal(flags.keyFile, "/other/key.pem");
  assert.equal(flags.healthPort, 0);
});

Deno.test("a wrong flag or value is an error that names it", () => {
  assert.throws(() => parseWebhookFlags(["--tls-crt", "x"], noEnv), /unknown argument --tls-crt; see --help/);
  assert.throws(() => parseWebhookFlags(["--port"], noEnv), /--port needs a value/);
  assert.throws(() => parseWebhookFlags(["--port", "https"], noEnv), /--port must be a port number/);
  assert.throws(
    () => parseWebhookFlags([], (name) => name === "COREDOG_WEBHOOK_PORT" ? "70000" : undefined),
    /COREDOG_WEBHOOK_PORT must be a port number from 0 to 65535, got "70000"/,
  );
  assert.throws(
    () => parseWebhookFlags(["--shutdown-delay=-1"], noEnv),
    /--shutdown-delay must be a number of seconds/,
  );
});

Deno.test("--help lists every flag with its variable and default", () => {
  assert.equal(parseWebhookFlags(["--help"], noEnv).help, true);
  const usage = webhookUsage();
  for (const text of ["--tls-cert", "COREDOG_WEBHOOK_TLS_CERT", "--health-port", "default 8443"]) {
    assert.ok(usage.includes(text), text);
  }
  for (const { flag, env } of WEBHOOK_FLAGS) {
    assert.ok(usage.includes(flag), flag);
    assert.ok(usage.includes(env), env);
  }
});

Deno.test("the webhook process exits 2 for a usage error, naming the flag, and 0 for --help", async () => {
  const webhook = taskRunArgs("webhook");
  for (
    const [args, message] of [[["--tls-crt", "x"], /unknown argument --tls-crt/], [
      ["--port"],
      /--port needs a value/,
    ]] as const
  ) {
    const process = runDeno([...webhook, ...args]);
    const status = await exitWithin(process, 20_000);
    assert.equal(status.code, 2, process.stderr.join("\n"));
    assert.match(process.stderr.join("\n"), message);
    assert.match(process.stderr.join("\n"), /Usage: coredog-webhook/);
  }
  const help = runDeno([...webhook, "--help"]);
  assert.equal((await exitWithin(help, 20_000)).code, 0);
  assert.match(help.lines.join("\n"), /--tls-mode <files\|self-managed>/);
});
