/**
 * One admission decision end to end: from a checked AdmissionReview to the
 * response and what happened, for the log and the metrics.
 *
 * Pure.
 *
 * @module
 */

import {
  admissionResponse,
  type AdmissionReview,
  type AdmissionReviewResponse,
  isPodCreate,
} from "./admission_review.ts";
import { isDnsLabel } from "./dump_path.ts";
import {
  type AdmissionPod,
  clipWarning,
  decideInjection,
  podReference,
  skipMessage,
  type SkipReason,
} from "./injection_rules.ts";
import { pointerToken } from "./json_patch.ts";
import { buildPodPatch } from "./pod_patch.ts";

/** What the webhook did with one review. */
export type MutationOutcome =
  | {
    kind: "injected";
    /** `<namespace>/<name>` or `<namespace>/<generateName>*`. */
    pod: string;
    mountPath: string;
    containers: string[];
  }
  | {
    kind: "skipped";
    reason: SkipReason;
    /** The seed's log line: `Skip injection for pod <ns>/<name> - Reason: <reason>`. */
    message: string;
  }
  | {
    /** Not a Pod CREATE: allowed untouched. */
    kind: "ignored";
  };

/** The response to send and what it means. */
export interface Mutation {
  response: AdmissionReviewResponse;
  outcome: MutationOutcome;
  warnings: string[];
}

/** Options of {@linkcode mutateAdmission}. */
export interface MutationOptions {
  /** `CorefileDir`, the directory on the nodes and the hostPath of the volume. */
  corefileDir: string;
}

/**
 * Decides and answers one AdmissionReview: a patch for an opted-in Pod
 * CREATE, warnings when the user asked for something that cannot be done,
 * and `allowed: true` whatever happens.
 */
export function mutateAdmission(review: AdmissionReview, options: MutationOptions): Mutation {
  const request = review.request;
  if (!isPodCreate(request)) return { response: admissionResponse(review), outcome: { kind: "ignored" }, warnings: [] };
  const pod = request.object as AdmissionPod;
  const namespace = request.namespace || pod.metadata?.namespace || "";
  const reference = podReference(namespace || "<no namespace>", pod);
  const decision = decideInjection(pod);
  if (!decision.inject) return skipped(review, reference, decision.reason, decision.detail, decision.warnings);
  if (!isDnsLabel(namespace)) {
    const detail = `namespace ${JSON.stringify(namespace)} is not a valid namespace name`;
    return skipped(review, reference, "invalid-pod", detail, [clipWarning(`not injected: ${detail}`)]);
  }
  const patch = buildPodPatch(pod, {
    namespace,
    corefileDir: options.corefileDir,
    mountPath: decision.mountPath,
    containers: decision.containers,
  });
  const warnings = [...decision.warnings, ...patch.warnings];
  if (patch.skipped) return skipped(review, reference, patch.skipped.reason, patch.skipped.detail, warnings);
  // Annotations that came packed into one are written back one by one, so that everything that reads
  // them later (the watcher, `kubectl get -o jsonpath`, the README's jq) sees what the user meant.
  const unpacked = Object.entries(decision.unpacked).map(([key, value]) => ({
    op: "add" as const,
    path: `/metadata/annotations/${pointerToken(key)}`,
    value,
  }));
  return {
    response: admissionResponse(review, { patch: [...patch.operations, ...unpacked], warnings }),
    outcome: { kind: "injected", pod: reference, mountPath: decision.mountPath, containers: patch.injected },
    warnings,
  };
}

function skipped(
  review: AdmissionReview,
  reference: string,
  reason: SkipReason,
  detail: string,
  warnings: string[],
): Mutation {
  return {
    response: admissionResponse(review, { warnings }),
    outcome: { kind: "skipped", reason, message: skipMessage(reference, detail) },
    warnings,
  };
}
