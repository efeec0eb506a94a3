/**
 * Command-line flags and environment variables of the webhook role.
 * A flag wins over its variable, which wins over the default.
 *
 * @module
 */

import { DEFAULT_CONFIG_PATH } from "../config_file.ts";
import { FlagError, type FlagSpec, flagsUsage, parseFlags } from "../flag_parser.ts";
import { DEFAULT_WEBHOOK_PORT } from "./server.ts";

/** Where the chart is expected to mount the serving certificate Secret (type kubernetes.io/tls). */
const DEFAULT_TLS_DIR = "/etc/coredog-webhook/tls";

/** Where the serving certificate comes from. */
export type TlsMode = "files" | "self-managed";

/** The webhook's settings from flags and environment. */
export interface WebhookFlags {
  configPath: string;
  port: number;
  hostname: string;
  certFile: string;
  keyFile: string;
  /** 0: no plain-HTTP health port. */
  healthPort: number;
  /** Seconds between SIGTERM and closing the port, while endpoints stop routing here. */
  shutdownDelaySeconds: number;
  /** `files`: serve what is at certFile/keyFile; `self-managed`: keep it in the Secret, serve it from memory. */
  tlsMode: TlsMode;
  /** Self-managed: the Secret holding the CA and the certificate. */
  tlsSecret: string;
  /** Self-managed: namespace of the Secret and Service; empty means the service account's. */
  namespace: string;
  /** Self-managed: the kubeconfig file; empty means `KUBECONFIG`, the service account, then `~/.kube/config`. */
  kubeconfig: string;
  /** Self-managed: the Service the certificate is for. */
  service: string;
  /** Self-managed: the MutatingWebhookConfiguration whose caBundle is kept current. */
  webhookConfiguration: string;
  caValidityDays: number;
  certValidityDays: number;
  tlsCheckIntervalSeconds: number;
  help: boolean;
}

const TLS_MODES: readonly TlsMode[] = ["files", "self-managed"];

/** Every flag, its variable, default and meaning; also the source of `--help`. */
export const WEBHOOK_FLAGS: readonly FlagSpec<Exclude<keyof WebhookFlags, "help">>[] = [
  {
    flag: "--config",
    env: "COREDOG_CONFIG",
    key: "configPath",
    kind: "string",
    default: DEFAULT_CONFIG_PATH,
    doc: "CoreDog configuration file (the watcher's); CorefileDir is the hostPath",
  },
  {
    flag: "--port",
    env: "COREDOG_WEBHOOK_PORT",
    key: "port",
    kind: "port",
    default: DEFAULT_WEBHOOK_PORT,
    doc: "HTTPS port of /mutate, /healthz, /readyz and /metrics",
  },
  {
    flag: "--host",
    env: "COREDOG_WEBHOOK_HOST",
    key: "hostname",
    kind: "string",
    default: "0.0.0.0",
    doc: "address to listen on",
  },
  {
    flag: "--tls-cert",
    env: "COREDOG_WEBHOOK_TLS_CERT",
    key: "certFile",
    kind: "string",
    default: `${DEFAULT_TLS_DIR}/tls.crt`,
    doc: "serving certificate (PEM, leaf first), reloaded when it changes",
  },
  {
    flag: "--tls-key",
    env: "COREDOG_WEBHOOK_TLS_KEY",
    key: "keyFile",
    kind: "string",
    default: `${DEFAULT_TLS_DIR}/tls.key`,
    doc: "private key of the certificate (PEM), reloaded with it",
  },
  {
    flag: "--health-port",
    env: "COREDOG_WEBHOOK_HEALTH_PORT",
    key: "healthPort",
    kind: "port",
    default: 9103,
    doc: "plain-HTTP port of /healthz, /readyz and /metrics; 0 turns it off",
  },
  {
    flag: "--shutdown-delay",
    env: "COREDOG_WEBHOOK_SHUTDOWN_DELAY_SECONDS",
    key: "shutdownDelaySeconds",
    kind: "seconds",
    default: 2,
    doc: "seconds between SIGTERM and closing the port, while the Service stops routing here",
  },
  {
    flag: "--tls-mode",
    env: "COREDOG_WEBHOOK_TLS_MODE",
    key: "tlsMode",
    kind: "string",
    oneOf: TLS_MODES,
    default: "files",
    doc: "files: serve --tls-cert/--tls-key, reloaded when they change (cert-manager, a Secret volume); " +
      "self-managed: keep a CA and certificate in --tls-secret, patch the caBundle, renew; --tls-cert/--tls-key unused",
  },
  {
    flag: "--tls-secret",
    env: "COREDOG_WEBHOOK_TLS_SECRET",
    key: "tlsSecret",
    kind: "string",
    default: "coredog-webhook-tls",
    doc: "self-managed: the Secret (created empty by the chart) that holds the CA and the serving certificate",
  },
  {
    flag: "--namespace",
    env: "COREDOG_WEBHOOK_NAMESPACE",
    key: "namespace",
    kind: "string",
    default: "",
    doc: "self-managed: namespace of the Secret and the Service; empty means the service account's namespace",
  },
  {
    flag: "--kubeconfig",
    env: "COREDOG_KUBECONFIG",
    key: "kubeconfig",
    kind: "string",
    default: "",
    doc: "self-managed: kubeconfig file (its current context) for the API; empty means $KUBECONFIG, " +
      "then the pod's service account, then ~/.kube/config",
  },
  {
    flag: "--service",
    env: "COREDOG_WEBHOOK_SERVICE",
    key: "service",
    kind: "string",
    default: "coredog-webhook",
    doc: "self-managed: the Service in front of the webhook; the certificate names <service>.<namespace>.svc",
  },
  {
    flag: "--webhook-configuration",
    env: "COREDOG_WEBHOOK_CONFIGURATION",
    key: "webhookConfiguration",
    kind: "string",
    default: "coredog",
    doc: "self-managed: the MutatingWebhookConfiguration whose caBundle is patched",
  },
  {
    flag: "--tls-ca-days",
    env: "COREDOG_WEBHOOK_TLS_CA_DAYS",
    key: "caValidityDays",
    kind: "days",
    default: 3650,
    doc: "self-managed: validity of a new CA; renewed after two thirds",
  },
  {
    flag: "--tls-cert-days",
    env: "COREDOG_WEBHOOK_TLS_CERT_DAYS",
    key: "certValidityDays",
    kind: "days",
    default: 365,
    doc: "self-managed: validity of a new serving certificate; renewed after two thirds",
  },
  {
    flag: "--tls-check-interval",
    env: "COREDOG_WEBHOOK_TLS_CHECK_INTERVAL_SECONDS",
    key: "tlsCheckIntervalSeconds",
    kind: "seconds",
    default: 300,
    doc: "self-managed: seconds between looks at the Secret and the caBundle",
  },
];

/**
 * Reads the flags from `args` and `env`.
 *
 * @throws {FlagError} for an unknown flag, a missing value or a bad number,
 * with a message naming the flag or variable.
 */
export function parseWebhookFlags(args: string[], env: (name: string) => string | undefined): WebhookFlags {
  const flags = parseFlags(args, WEBHOOK_FLAGS, { env }) as unknown as WebhookFlags;
  if (flags.tlsCheckIntervalSeconds < 1) {
    throw new FlagError(`--tls-check-interval must be at least 1 second, got ${flags.tlsCheckIntervalSeconds}`);
  }
  return flags;
}

/** The `--help` text. */
export function webhookUsage(): string {
  return flagsUsage("coredog-webhook", WEBHOOK_FLAGS);
}
