/**
 * The AdmissionReview v1 envelope: checking what kube-apiserver sends and
 * building the answer it expects.
 *
 * The response echoes `request.uid` with the same apiVersion and kind;
 * a patch travels as base64 JSON with `patchType: "JSONPatch"`; warnings
 * are shown by kubectl. The webhook never refuses a pod, so every
 * response is `allowed: true`.
 *
 * Pure.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { JsonPatchOperation } from "./json_patch.ts";

/** The only AdmissionReview version served. */
export const ADMISSION_API_VERSION = "admission.k8s.io/v1";
/** The kind of the envelope, both ways. */
export const ADMISSION_KIND = "AdmissionReview";

/** Group, version and kind/resource as the apiserver writes them. */
export interface GroupVersion {
  group?: string;
  version?: string;
}

/** The parts of an AdmissionRequest the webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind?: GroupVersion & { kind?: string };
  resource?: GroupVersion & { resource?: string };
  subResource?: string;
  /** Empty for a pod that a controller creates with `generateName`. */
  name?: string;
  /** Always set for namespaced objects such as pods. */
  namespace?: string;
  operation?: string;
  object?: unknown;
  dryRun?: boolean;
}

/** An AdmissionReview request that passed {@linkcode parseAdmissionReview}. */
export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  request: AdmissionRequest;
}

/** The answer to one AdmissionReview. */
export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: {
    uid: string;
    allowed: true;
    patchType?: "JSONPatch";
    /** Base64 of the JSON Patch document. */
    patch?: string;
    warnings?: string[];
  };
}

/** Result of {@linkcode parseAdmissionReview}: the review, or why it is malformed. */
export type ParsedAdmissionReview = { ok: true; review: AdmissionReview } | { ok: false; error: string };

/**
 * Parses and checks a request body. Anything that is not an AdmissionReview
 * v1 with a `request.uid` is malformed; so is a Pod CREATE without the pod.
 */
export function parseAdmissionReview(body: string): ParsedAdmissionReview {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { ok: false, error: `the body is not JSON: ${(error as Error).message}` };
  }
  if (!isObject(value)) return { ok: false, error: "the body is not a JSON object" };
  if (value.kind !== ADMISSION_KIND) {
    return { ok: false, error: `kind must be ${ADMISSION_KIND}, got ${describe(value.kind)}` };
  }
  if (value.apiVersion !== ADMISSION_API_VERSION) {
    return { ok: false, error: `apiVersion must be ${ADMISSION_API_VERSION}, got ${describe(value.apiVersion)}` };
  }
  const request = value.request;
  if (!isObject(request)) return { ok: false, error: "request is missing" };
  if (typeof request.uid !== "string" || request.uid === "") {
    return { ok: false, error: "request.uid is missing" };
  }
  const review = value as unknown as AdmissionReview;
  if (isPodCreate(review.request) && !isObject(request.object)) {
    return { ok: false, error: "a Pod CREATE request must carry the pod in request.object" };
  }
  return { ok: true, review };
}

/**
 * True for the creation of a pod itself (not of a subresource such as a
 * binding or an eviction), the only request the webhook changes.
 */
export function isPodCreate(request: AdmissionRequest): boolean {
  const resource = request.resource;
  return request.operation === "CREATE" && (resource?.group ?? "") === "" && resource?.version === "v1" &&
    resource?.resource === "pods" && !request.subResource;
}

/** Options of {@linkcode admissionResponse}. */
export interface AdmissionResponseOptions {
  /** Operations to apply; none or an empty list means no patch. */
  patch?: JsonPatchOperation[];
  warnings?: string[];
}

/** The `allowed: true` answer to `review`, with the patch and warnings if any. */
export function admissionResponse(
  review: AdmissionReview,
  options: AdmissionResponseOptions = {},
): AdmissionReviewResponse {
  const response: AdmissionReviewResponse["response"] = { uid: review.request.uid, allowed: true };
  if (options.patch && options.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = encodePatch(options.patch);
  }
  if (options.warnings && options.warnings.length > 0) response.warnings = [...options.warnings];
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** Base64 of the UTF-8 JSON of `operations`, as `response.patch` carries it. */
export function encodePatch(operations: JsonPatchOperation[]): string {
  // Buffer's native base64 is about ten times faster than btoa over a binary string, per request.
  return Buffer.from(JSON.stringify(operations), "utf8").toString("base64");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value).slice(0, 60);
}
