/**
 * The shapes CoreDog reads from the Kubernetes API and its error type,
 * without `@kubernetes/client-node`: modules that only need these (the
 * webhook's TLS logic, the pod cache) import them from here, so that the
 * library is loaded only when a connection exists ({@linkcode openKubeClient}
 * in `connect.ts`).
 *
 * @module
 */

/** The parts of a v1 Secret that CoreDog reads and writes. */
export interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [key: string]: unknown };
  type?: string;
  /** Values are base64, as the API sends them. */
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** One webhook of a MutatingWebhookConfiguration, as far as CoreDog looks. */
export interface MutatingWebhook {
  name: string;
  clientConfig?: { caBundle?: string; service?: Record<string, unknown>; url?: string };
  [key: string]: unknown;
}

/** The parts of an admissionregistration.k8s.io/v1 MutatingWebhookConfiguration that CoreDog reads. */
export interface MutatingWebhookConfigurationObject {
  metadata: { name: string; resourceVersion?: string; [key: string]: unknown };
  webhooks?: MutatingWebhook[];
  [key: string]: unknown;
}

/** An answer of the API server that is not a success; `reason` is the Status reason, e.g. `Conflict`. */
export class KubeApiError extends Error {
  /** HTTP status, e.g. 409. */
  readonly status: number;
  /** The Status object's `reason`, e.g. `Conflict`, `Forbidden`, `NotFound`; empty when the body was no Status. */
  readonly reason: string;

  constructor(message: string, status: number, reason: string) {
    super(message);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
  }
}

/** True for the 409 the API answers when a write carried an outdated `resourceVersion`. */
export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 409;
}

/** The longest wait for one answer of the API server (not for a watch), ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
