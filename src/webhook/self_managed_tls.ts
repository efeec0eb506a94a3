/**
 * TLS with no manual step: the webhook keeps its own CA and serving
 * certificate in a Secret the chart creates empty, puts the CA bundle into
 * the `caBundle` of its MutatingWebhookConfiguration, and renews both before
 * they expire.
 *
 * Several replicas share one Secret. Every write carries the
 * `resourceVersion` it read, so when two replicas start at once only one
 * write wins; the other gets a 409, reads the Secret again and adopts what
 * the winner wrote. After patching the `caBundle`, a replica reads the
 * Secret once more: if another replica changed it in between, the pass
 * starts over, so the last `caBundle` written always matches the Secret.
 *
 * The serving pair goes straight from the Secret the replica just read or
 * wrote to the server, in memory: no Secret volume (the kubelet may take a
 * minute to update one) and no file, so the webhook needs no write
 * permission at all.
 *
 * @module
 */

import { retryDelayMs } from "../core/backoff.ts";
import { isConflict, type MutatingWebhookConfigurationObject, type SecretObject } from "../kube/api_objects.ts";
import type { Logger } from "../log.ts";
import {
  base64,
  bundleFromSecretData,
  fromBase64,
  planBundle,
  sameCertificates,
  secretDataFromBundle,
  type ServingBundle,
} from "../tls/serving_bundle.ts";
import { describeCertificate } from "../tls/certificates.ts";
import type { CertificatePair } from "./tls_server.ts";

/** The API calls self-managed TLS makes; `KubeClient` has them. */
export interface TlsApi {
  getSecret(namespace: string, name: string): Promise<SecretObject | undefined>;
  updateSecret(secret: SecretObject): Promise<SecretObject>;
  getMutatingWebhookConfiguration(name: string): Promise<MutatingWebhookConfigurationObject | undefined>;
  patchMutatingWebhookConfiguration(
    name: string,
    patch: Record<string, unknown>,
  ): Promise<MutatingWebhookConfigurationObject>;
}

/** Where the key material lives and what the certificate is for. */
export interface SelfManagedTlsOptions {
  /** Namespace of the Secret and the Service. */
  namespace: string;
  /** The Secret that holds the CA and the serving certificate (created empty by the chart). */
  secretName: string;
  /** The Service in front of the webhook; the certificate names `<service>.<namespace>.svc`. */
  serviceName: string;
  /** The MutatingWebhookConfiguration whose `caBundle` is kept up to date. */
  webhookConfigurationName: string;
  caValidityDays: number;
  certValidityDays: number;
  logger: Logger;
  /** The clock; `new Date()` by default. */
  now?(): Date;
}

/** What one pass did. */
export interface TlsPassResult {
  /** What this replica renewed in the Secret and why; empty when it adopted the Secret as it was. */
  changes: string[];
  /** True when this pass patched the `caBundle` (at least once). */
  patchedCaBundle: boolean;
  /** The serving certificate and key to use now. */
  certificate: CertificatePair;
  /** Conflicts met (each followed by a fresh read). */
  conflicts: number;
  /** The serving certificate's end of validity. */
  notAfter: Date;
}

/** How many times a pass starts over after conflicts before giving up until the next pass. */
const MAX_ATTEMPTS = 8;

/** The names kube-apiserver may use for the Service (it connects to `<service>.<namespace>.svc`). */
export function serviceDnsNames(serviceName: string, namespace: string): string[] {
  return [serviceName, `${serviceName}.${namespace}`, `${serviceName}.${namespace}.svc`];
}

/**
 * One pass: read the Secret, renew what needs renewing, write it back
 * (starting over on a conflict), make the webhook configuration trust the
 * CA bundle, and return the serving pair to use.
 *
 * @throws {Error} when the Secret or the webhook configuration is missing,
 * the API refuses (e.g. RBAC), or the Secret kept changing.
 */
export async function reconcileTls(api: TlsApi, options: SelfManagedTlsOptions): Promise<TlsPassResult> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const where = `${options.namespace}/${options.secretName}`;
  let conflicts = 0;
  // A write that succeeded stays done when a later step of the pass meets a conflict and starts over.
  const renewed: string[] = [];
  let patchedCaBundle = false;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const secret = await api.getSecret(options.namespace, options.secretName);
    if (!secret) {
      throw new Error(`Secret ${where} not found; the chart creates it empty (the webhook may not create Secrets)`);
    }
    const configuration = await api.getMutatingWebhookConfiguration(options.webhookConfigurationName);
    if (!configuration) {
      throw new Error(`MutatingWebhookConfiguration ${options.webhookConfigurationName} not found`);
    }
    const plan = await planBundle(bundleFromSecretData(secret.data), {
      dnsNames: serviceDnsNames(options.serviceName, options.namespace),
      now: now(),
      caValidityDays: options.caValidityDays,
      certValidityDays: options.certValidityDays,
      trustedCaPems: trustedCas(configuration),
    });
    let version = secret.metadata.resourceVersion;
    if (plan.changes.length > 0) {
      try {
        const written = await api.updateSecret({ ...secret, data: secretDataFromBundle(plan.bundle) });
        version = written.metadata.resourceVersion;
      } catch (error) {
        if (!isConflict(error)) throw error;
        conflicts++;
        logger.info("another replica updated the TLS Secret first; adopting what it wrote", { secret: where });
        continue;
      }
      renewed.push(...plan.changes);
      logger.info("renewed the webhook's TLS material", { secret: where, changes: plan.changes.join("; ") });
    }
    if (plan.waiting) logger.info(plan.waiting, { secret: where });

    if (!trusts(configuration, plan.bundle.trustPem)) {
      try {
        await api.patchMutatingWebhookConfiguration(
          options.webhookConfigurationName,
          caBundlePatch(configuration, plan.bundle),
        );
      } catch (error) {
        if (!isConflict(error)) throw error;
        conflicts++;
        continue;
      }
      patchedCaBundle = true;
      logger.info("patched the caBundle of the webhook configuration", {
        configuration: options.webhookConfigurationName,
        cas: plan.bundle.trustPem.split("BEGIN CERTIFICATE").length - 1,
      });
    }
    // A replica that wrote the Secret meanwhile may have patched a newer bundle before ours: look again.
    const again = await api.getSecret(options.namespace, options.secretName);
    if (again?.metadata.resourceVersion !== version) {
      conflicts++;
      continue;
    }
    return {
      changes: renewed,
      patchedCaBundle,
      certificate: { certPem: plan.bundle.certPem, keyPem: plan.bundle.keyPem },
      conflicts,
      notAfter: describeCertificate(plan.bundle.certPem).notAfter,
    };
  }
  throw new Error(`the TLS Secret ${where} kept changing during ${MAX_ATTEMPTS} attempts; trying again later`);
}

/** Options of {@linkcode startSelfManagedTls}. */
export interface SelfManagedTlsLoopOptions extends SelfManagedTlsOptions {
  /** Time between passes once a pass succeeded, ms. */
  checkIntervalMs: number;
  /** Puts a new pair in service (the server's `useCertificate`); called only when the pair changes. */
  onCertificate(pair: CertificatePair): void | Promise<void>;
}

/** Self-managed TLS running in the background. */
export interface SelfManagedTls {
  /** Resolves after the first successful pass. */
  firstPass: Promise<void>;
  /** Stops; waits for a pass in progress. */
  stop(): Promise<void>;
}

/**
 * Runs {@linkcode reconcileTls} now and then every `checkIntervalMs`; a
 * failed pass is logged and retried with backoff (1 s doubling up to the
 * interval), so a Secret or RBAC rule that appears later is picked up.
 */
export function startSelfManagedTls(api: TlsApi, options: SelfManagedTlsLoopOptions): SelfManagedTls {
  const { logger } = options;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  let failures = 0;
  let served: CertificatePair | undefined;
  let resolveFirst!: () => void;
  const firstPass = new Promise<void>((resolve) => resolveFirst = resolve);

  async function pass(): Promise<void> {
    try {
      const result = await reconcileTls(api, options);
      const changed = served?.certPem !== result.certificate.certPem || served?.keyPem !== result.certificate.keyPem;
      if (changed) {
        await options.onCertificate(result.certificate);
        served = result.certificate;
      }
      if (failures > 0 || changed) {
        logger.info("webhook TLS is in place", {
          secret: `${options.namespace}/${options.secretName}`,
          not_after: result.notAfter.toISOString(),
        });
      }
      failures = 0;
      resolveFirst();
    } catch (error) {
      failures++;
      logger.error("cannot set up the webhook's TLS; retrying", {
        error: (error as Error).message,
        attempt: failures,
      });
    }
  }

  function schedule(): void {
    if (stopped) return;
    const delay = failures > 0
      ? retryDelayMs(failures, { baseMs: 1000, maxMs: options.checkIntervalMs })
      : options.checkIntervalMs;
    timer = setTimeout(() => {
      running = pass().finally(schedule);
    }, delay);
  }

  running = pass().finally(schedule);
  return {
    firstPass,
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** The CAs each webhook of the configuration trusts now. */
function trustedCas(configuration: MutatingWebhookConfigurationObject): string[] {
  return (configuration.webhooks ?? []).map((webhook) => fromBase64(webhook.clientConfig?.caBundle ?? ""));
}

function trusts(configuration: MutatingWebhookConfigurationObject, trustPem: string): boolean {
  const webhooks = configuration.webhooks ?? [];
  return webhooks.every((webhook) => sameCertificates(fromBase64(webhook.clientConfig?.caBundle ?? ""), trustPem));
}

/**
 * A strategic merge patch: `webhooks` merge by name, so only each
 * `caBundle` changes; the `resourceVersion` makes it conditional.
 */
function caBundlePatch(
  configuration: MutatingWebhookConfigurationObject,
  bundle: ServingBundle,
): Record<string, unknown> {
  const caBundle = base64(bundle.trustPem);
  return {
    metadata: { resourceVersion: configuration.metadata.resourceVersion },
    webhooks: (configuration.webhooks ?? []).map((webhook) => ({ name: webhook.name, clientConfig: { caBundle } })),
  };
}
