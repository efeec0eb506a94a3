/**
 * What the tier hands its scenarios: where the control plane, MinIO and
 * the binaries are. Written by tests/cluster/tier.ts, read by every
 * scenario through {@linkcode loadTier}.
 *
 * @module
 */

/** The environment variable that names the tier's JSON file. */
export const TIER_ENV_VARIABLE = "COREDOG_CLUSTER_TIER";

/** The tier, as its scenarios see it. */
export interface TierEnv {
  /** This run's scratch directory (logs, PKI, per-scenario folders). */
  runDir: string;
  /** `https://192.0.2.1:6443`. */
  server: string;
  caCert: string;
  adminKubeconfig: string;
  /** An address of the namespace that is not loopback, where host processes serve the API server. */
  testHostAddress: string;
  minio: { endpoint: string; domain: string; accessKeyId: string; secretAccessKey: string; pid: number };
  apiserverPid: number;
  binaries: { helm: string; kubectl: string; kubeApiserver: string };
  versions: Record<string, string>;
  /** The tier's control endpoint: `POST <control>/restart-apiserver` restarts kube-apiserver (see tier.ts). */
  control: string;
}

/** The tier this scenario runs in. Throws with the way to run it when there is none. */
export function loadTier(): TierEnv {
  const path = Deno.env.get(TIER_ENV_VARIABLE);
  if (!path) {
    throw new Error(
      `${TIER_ENV_VARIABLE} is not set: the cluster scenarios run inside the tier; use \`deno task test:cluster\``,
    );
  }
  return JSON.parse(Deno.readTextFileSync(path));
}
