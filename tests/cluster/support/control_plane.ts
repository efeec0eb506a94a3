/**
 * A real Kubernetes control plane for the cluster tier: etcd,
 * kube-apiserver (RBAC, MutatingAdmissionWebhook, PodSecurity, bound
 * service-account tokens) and kube-controller-manager. No kubelet and no
 * scheduler: pods are stored and stay Pending, which is all admission needs.
 *
 * Everything listens inside the tier's own network namespace
 * (tests/cluster/main.ts), so fixed ports clash with nothing.
 *
 * @module
 */

import { join } from "node:path";
import type { TierBinaries } from "./binaries.ts";
import { type ManagedProcess, startProcess, waitUntil } from "./managed_process.ts";
import { createPki, type TierPki } from "./pki.ts";

/** The address the API server advertises, on the namespace's loopback device. */
export const APISERVER_ADDRESS = "192.0.2.1";
/** The API server's port. */
export const APISERVER_PORT = 6443;
/** Service ClusterIPs are allocated from here; nothing dials them (webhooks go through EndpointSlices). */
const SERVICE_CIDR = "10.96.0.0/16";

/** A running control plane. */
export interface ControlPlane {
  pki: TierPki;
  /** `https://192.0.2.1:6443`. */
  server: string;
  /** A kubeconfig with the admin client certificate (system:masters). */
  adminKubeconfig: string;
  etcd: ManagedProcess;
  apiserver: ManagedProcess;
  controllerManager: ManagedProcess;
  /** Restarts kube-apiserver with the same flags (watches break and must resume). */
  restartApiserver(): Promise<void>;
  /** Stops everything, each by its own pid. */
  stop(): Promise<void>;
}

/** Starts etcd, kube-apiserver and kube-controller-manager under `dir`. */
export async function startControlPlane(dir: string, binaries: TierBinaries): Promise<ControlPlane> {
  const pki = await createPki(join(dir, "pki"), { apiserverIps: [APISERVER_ADDRESS, "127.0.0.1", "10.96.0.1"] });
  const logs = join(dir, "logs");
  await Deno.mkdir(logs, { recursive: true });
  const server = `https://${APISERVER_ADDRESS}:${APISERVER_PORT}`;
  const adminKubeconfig = join(dir, "admin.kubeconfig");
  await Deno.writeTextFile(adminKubeconfig, kubeconfigText(server, pki, "admin"));

  const etcd = await startProcess("etcd", [
    binaries.etcd,
    "--data-dir",
    join(dir, "etcd"),
    "--listen-client-urls",
    "http://127.0.0.1:2379",
    "--advertise-client-urls",
    "http://127.0.0.1:2379",
    "--listen-peer-urls",
    "http://127.0.0.1:2380",
    "--initial-advertise-peer-urls",
    "http://127.0.0.1:2380",
    "--initial-cluster",
    "default=http://127.0.0.1:2380",
    // A test cluster: durability across power loss does not matter, speed does.
    "--unsafe-no-fsync",
    "--log-level",
    "warn",
  ], join(logs, "etcd.log"));
  await waitUntil(etcd, "a healthy /health", async () => {
    const response = await fetch("http://127.0.0.1:2379/health");
    return response.ok && (await response.json()).health === "true";
  });

  const apiserverArgs = [
    binaries.kubeApiserver,
    "--etcd-servers",
    "http://127.0.0.1:2379",
    "--bind-address",
    "0.0.0.0",
    "--advertise-address",
    APISERVER_ADDRESS,
    "--secure-port",
    String(APISERVER_PORT),
    "--cert-dir",
    join(dir, "apiserver-certs"),
    "--tls-cert-file",
    pki.apiserverCert,
    "--tls-private-key-file",
    pki.apiserverKey,
    "--client-ca-file",
    pki.caCert,
    "--authorization-mode",
    "RBAC",
    "--enable-admission-plugins",
    "NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,PodSecurity,ResourceQuota,Priority",
    "--service-account-issuer",
    "https://kubernetes.default.svc.cluster.local",
    "--service-account-key-file",
    pki.serviceAccountPub,
    "--service-account-signing-key-file",
    pki.serviceAccountKey,
    "--service-cluster-ip-range",
    SERVICE_CIDR,
    // Webhook Services resolve through their EndpointSlices, not a ClusterIP that only kube-proxy could route.
    "--enable-aggregator-routing=true",
    // The watcher's node-setup init container is privileged.
    "--allow-privileged=true",
    "--profiling=false",
    "--v=1",
  ];
  let apiserver = await startApiserver(apiserverArgs, logs, pki);

  const controllerManager = await startProcess("kube-controller-manager", [
    binaries.kubeControllerManager,
    "--kubeconfig",
    adminKubeconfig,
    "--authentication-kubeconfig",
    adminKubeconfig,
    "--authorization-kubeconfig",
    adminKubeconfig,
    "--bind-address",
    "127.0.0.1",
    "--secure-port",
    "10257",
    "--cert-dir",
    join(dir, "kcm-certs"),
    "--leader-elect=false",
    "--root-ca-file",
    pki.caCert,
    "--service-account-private-key-file",
    pki.serviceAccountKey,
    "--service-cluster-ip-range",
    SERVICE_CIDR,
    "--controllers",
    "*",
    "--v=1",
  ], join(logs, "kube-controller-manager.log"));
  // Ready once its service-account controller made the `default` ServiceAccount (pods need it).
  const admin = await adminClient(pki);
  try {
    await waitUntil(controllerManager, "ServiceAccount default/default", async () => {
      const response = await fetch(`${server}/api/v1/namespaces/default/serviceaccounts/default`, { client: admin });
      await response.body?.cancel();
      return response.ok;
    }, 90_000);
  } finally {
    admin.close();
  }

  return {
    pki,
    server,
    adminKubeconfig,
    etcd,
    get apiserver() {
      return apiserver;
    },
    controllerManager,
    async restartApiserver() {
      await apiserver.stop();
      apiserver = await startApiserver(apiserverArgs, logs, pki);
    },
    async stop() {
      await controllerManager.stop();
      await apiserver.stop();
      await etcd.stop();
    },
  };
}

async function startApiserver(args: string[], logs: string, pki: TierPki): Promise<ManagedProcess> {
  const apiserver = await startProcess("kube-apiserver", args, join(logs, "kube-apiserver.log"));
  const client = await adminClient(pki);
  try {
    await waitUntil(apiserver, "a ready /readyz", async () => {
      const response = await fetch(`https://${APISERVER_ADDRESS}:${APISERVER_PORT}/readyz`, { client });
      await response.body?.cancel();
      return response.ok;
    }, 120_000);
  } finally {
    client.close();
  }
  return apiserver;
}

/** An HTTP client that presents the admin certificate and trusts the tier's CA. */
export async function adminClient(pki: TierPki): Promise<Deno.HttpClient> {
  return Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(pki.caCert)],
    cert: await Deno.readTextFile(pki.adminCert),
    key: await Deno.readTextFile(pki.adminKey),
  });
}

/** A kubeconfig for `server` that authenticates with the tier's admin client certificate. */
function kubeconfigText(server: string, pki: TierPki, user: string): string {
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "tier", cluster: { server, "certificate-authority": pki.caCert } }],
      users: [{ name: user, user: { "client-certificate": pki.adminCert, "client-key": pki.adminKey } }],
      contexts: [{ name: "tier", context: { cluster: "tier", user, namespace: "default" } }],
      "current-context": "tier",
    },
    null,
    2,
  );
}
