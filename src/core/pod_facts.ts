/**
 * Pod facts from a Pod object read from the Kubernetes API: uid, node,
 * image, owner workload, restart count; and the container a core came
 * from when the path alone does not say.
 *
 * @module
 */

import type { ContainerFacts, PodFacts, WorkloadRef } from "./crash_record.ts";

/** The parts of a v1 Pod that CoreDog reads. */
export interface PodObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
  };
  spec?: {
    nodeName?: string;
    containers?: { name: string; image?: string }[];
  };
  status?: {
    hostIP?: string;
    podIP?: string;
    containerStatuses?: { name: string; image?: string; imageID?: string; restartCount?: number }[];
  };
}

/** Annotation the webhook sets to the containers it injected. */
export const INJECTED_ANNOTATION = "coredog.io/injected";

/**
 * Facts about the pod and, when `containerName` is given or can be told,
 * the container. A pod-level core (`<ns>/<pod>/<file>`) belongs to a
 * container only when the pod has exactly one candidate: one container, or
 * one container named by the webhook's `coredog.io/injected` annotation.
 */
export function podFacts(pod: PodObject, containerName?: string): { pod: PodFacts; container: ContainerFacts } {
  const meta = pod.metadata ?? {};
  const facts: PodFacts = {
    namespace: meta.namespace,
    name: meta.name,
    uid: meta.uid,
    node: pod.spec?.nodeName,
    ip: pod.status?.podIP,
    labels: meta.labels,
    workload: workloadOf(pod),
  };
  const name = containerName ?? soleContainer(pod);
  if (!name) return { pod: facts, container: {} };
  const spec = pod.spec?.containers?.find((c) => c.name === name);
  const status = pod.status?.containerStatuses?.find((c) => c.name === name);
  return {
    pod: facts,
    container: {
      name,
      image: status?.image ?? spec?.image,
      imageID: status?.imageID || undefined,
      restartCount: status?.restartCount,
    },
  };
}

function soleContainer(pod: PodObject): string | undefined {
  const injected = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  if (injected) {
    const names = injected.split(",").map((s) => s.trim()).filter(Boolean);
    return names.length === 1 ? names[0] : undefined;
  }
  const containers = pod.spec?.containers ?? [];
  return containers.length === 1 ? containers[0].name : undefined;
}

/**
 * The workload owning the pod. A ReplicaSet made by a Deployment is named
 * `<deployment>-<pod-template-hash>` and its pods carry that hash as a
 * label, which names the Deployment without an extra API call (and without
 * RBAC on ReplicaSets).
 */
function workloadOf(pod: PodObject): WorkloadRef | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner?.kind || !owner.name) return undefined;
  const hash = pod.metadata?.labels?.["pod-template-hash"];
  if (owner.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`)) {
    return { kind: "Deployment", name: owner.name.slice(0, -(hash.length + 1)) };
  }
  return { kind: owner.kind, name: owner.name };
}
