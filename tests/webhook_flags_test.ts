import assert from "node:assert/strict";
import { parseWebhookFlags, webhookUsage } from "../src/webhook/flags.ts";

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
  });
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
});
