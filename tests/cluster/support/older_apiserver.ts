/**
 * An older kube-apiserver for the chart's version gating: Kubernetes 1.30
 * (matchConditions GA), built from the pinned module in
 * tests/cluster/build/kube130 and cached like the tier's own binaries. Only
 * kube-apiserver is built, and only when the scenario that needs it runs
 * (a full run does): a cold build takes minutes.
 *
 * 1.27 is not built: the Go module proxy this project reaches has no
 * k8s.io/legacy-cloud-providers v0.27.x, which kube-apiserver 1.27 imports
 * (`go mod tidy` answers 404).
 *
 * @module
 */

import { join } from "node:path";
import { CACHE_DIR, ComponentError, lastLines } from "./binaries.ts";

/** The scenario file that needs it; main.ts builds it when that file runs. */
export const OLDER_APISERVER_SCENARIO = "chart_kube_versions.ts";

const MODULE_DIR = new URL("../build/kube130/", import.meta.url).pathname;

/** The version tests/cluster/build/kube130/go.mod pins, e.g. `v1.30.14`. */
export function olderKubeVersion(): string {
  const text = Deno.readTextFileSync(join(MODULE_DIR, "go.mod"));
  const match = text.match(/^require k8s\.io\/kubernetes (\S+)/m);
  if (!match) {
    throw new ComponentError("kube130", "tests/cluster/build/kube130/go.mod does not require k8s.io/kubernetes");
  }
  return match[1];
}

/** Where its binary is cached. */
export function olderApiserverBinary(): string {
  return join(CACHE_DIR, "bin", `kube-apiserver-${olderKubeVersion()}`, "kube-apiserver");
}

/** Builds it unless it is cached. */
export async function ensureOlderApiserver(log: (line: string) => void): Promise<void> {
  const version = olderKubeVersion();
  const binary = olderApiserverBinary();
  try {
    await Deno.stat(binary);
    log(`kube-apiserver ${version}: cached in ${join(binary, "..")}`);
    return;
  } catch {
    // not built yet
  }
  const started = performance.now();
  log(`kube-apiserver ${version}: building from tests/cluster/build/kube130 (minutes on a cold cache)`);
  const minor = version.split(".")[1];
  const partial = `${binary}.partial`;
  await Deno.mkdir(join(binary, ".."), { recursive: true });
  const output = await new Deno.Command("go", {
    args: [
      "build",
      "-mod=readonly",
      "-trimpath",
      "-ldflags",
      [
        "-s",
        "-w",
        `-X k8s.io/component-base/version.gitVersion=${version}`,
        "-X k8s.io/component-base/version.gitMajor=1",
        `-X k8s.io/component-base/version.gitMinor=${minor}`,
        "-X k8s.io/component-base/version.gitTreeState=clean",
      ].join(" "),
      "-o",
      partial,
      "k8s.io/kubernetes/cmd/kube-apiserver",
    ],
    cwd: MODULE_DIR,
    env: { GOFLAGS: "-buildvcs=false" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new ComponentError(`kube-apiserver ${version}`, `go build failed:\n${lastLines(output.stderr, 20)}`);
  }
  await Deno.rename(partial, binary);
  log(`kube-apiserver ${version}: built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
