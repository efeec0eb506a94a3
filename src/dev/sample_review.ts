/**
 * The AdmissionReview the local webhook's curl example posts: what
 * kube-apiserver sends when a Deployment's ReplicaSet creates a pod that
 * opts in (`coredog.io/inject: "true"`, dumps at `/corefile`).
 *
 * @module
 */

/** An AdmissionReview v1 request for the creation of one opted-in pod, as JSON text. */
export function sampleAdmissionReview(): string {
  const pod = {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      generateName: "web-7d9f8b6c5d-",
      namespace: "team-a",
      labels: { app: "web", "pod-template-hash": "7d9f8b6c5d" },
      annotations: { "coredog.io/inject": "true", "coredog.io/path": "/corefile" },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "web-7d9f8b6c5d",
        uid: "3f0c2a57-1b9e-4c55-8d1e-6a7f9b0c2d11",
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      containers: [{
        name: "app",
        image: "registry.example.com/team-a/web:1.4.2",
        command: ["bash", "-c", "ulimit -c unlimited\nexec /app/server\n"],
        imagePullPolicy: "IfNotPresent",
      }],
      restartPolicy: "Always",
      serviceAccountName: "default",
    },
  };
  const review = {
    kind: "AdmissionReview",
    apiVersion: "admission.k8s.io/v1",
    request: {
      uid: "0c8f2f7e-2b1a-4f39-9a6b-5d6c1e2f3a41",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      namespace: "team-a",
      operation: "CREATE",
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
    },
  };
  return `${JSON.stringify(review, null, 2)}\n`;
}
