/**
 * A second kube-apiserver inside the tier, for what the main one cannot
 * show without changing it for every scenario: another release of
 * Kubernetes, or other admission configuration. It shares the tier's etcd
 * under a key prefix of its own (so it sees nothing of the main API
 * server), the tier's PKI and service-account keys, and answers on its own
 * port of the API server's address. No controller manager runs for it.
 *
 * @module
 */

import { join } from "node:path";
import { APISERVER_ADDRESS } from "./control_plane.ts";
import { type ManagedProcess, startProcess, waitUntil } from "./managed_process.ts";
import { kubectlResult } from "./kube.ts";
import { loadTier } from "./tier_env.ts";

/** A running second API server. */
export interface SecondApiserver {
  /** An admin kubeconfig for it (the tier's admin certificate). */
  kubeconfig: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Options of {@linkcode startSecondApiserver}. */
export interface SecondApiserverOptions {
  /** The kube-apiserver binary; the tier's own when not given. */
  binary?: string;
  port: number;
  /** Its etcd key prefix, e.g. `/coredog-priority-quota`. */
  etcdPrefix: string;
  admissionPlugins: string[];
  /** An AdmissionConfiguration file. */
  admissionConfig?: string;
}

/** Starts it under `dir` and waits until /readyz answers. */
export async function startSecondApiserver(dir: string, options: SecondApiserverOptions): Promise<SecondApiserver> {
  const tier = loadTier();
  const pki = join(tier.runDir, "pki");
  await Deno.mkdir(dir, { recursive: true });
  const process = await startProcess(`kube-apiserver :${options.port}`, [
    options.binary ?? tier.binaries.kubeApiserver,
    "--etcd-servers",
    "http://127.0.0.1:2379",
    "--etcd-prefix",
    options.etcdPrefix,
    "--bind-address",
    APISERVER_ADDRESS,
    "--advertise-address",
    APISERVER_ADDRESS,
    "--secure-port",
    String(options.port),
    "--cert-dir",
    join(dir, "certs"),
    "--tls-cert-file",
    join(pki, "apiserver.crt"),
    "--tls-private-key-file",
    join(pki, "apiserver.key"),
    "--client-ca-file",
    tier.caCert,
    "--authorization-mode",
    "RBAC",
    "--enable-admission-plugins",
    options.admissionPlugins.join(","),
    ...(options.admissionConfig ? ["--admission-control-config-file", options.admissionConfig] : []),
    "--service-account-issuer",
    "https://kubernetes.default.svc.cluster.local",
    "--service-account-key-file",
    join(pki, "sa.pub"),
    "--service-account-signing-key-file",
    join(pki, "sa.key"),
    // Not the main API server's range: the two allocate from different etcd keys anyway.
    "--service-cluster-ip-range",
    "10.97.0.0/16",
    "--allow-privileged=true",
    "--profiling=false",
  ], join(dir, "kube-apiserver.log"));
  const kubeconfig = join(dir, "admin.kubeconfig");
  const admin = JSON.parse(await Deno.readTextFile(tier.adminKubeconfig));
  admin.clusters[0].cluster.server = `https://${APISERVER_ADDRESS}:${options.port}`;
  await Deno.writeTextFile(kubeconfig, JSON.stringify(admin));
  try {
    await waitUntil(
      process,
      "a ready /readyz",
      async () => (await kubectlResult(["get", "--raw", "/readyz"], { kubeconfig })).code === 0,
      120_000,
    );
  } catch (error) {
    await process.stop();
    throw error;
  }
  return { kubeconfig, process, stop: () => process.stop() };
}
