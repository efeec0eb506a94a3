/**
 * The scenarios' hands on the real cluster: the real kubectl and helm,
 * service-account tokens from the TokenRequest API, and kubeconfigs that
 * authenticate as a ServiceAccount (so that only RBAC decides).
 *
 * @module
 */

import { join } from "node:path";
import { loadTier, type TierEnv } from "./tier_env.ts";

/** What a command printed and how it ended. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `program args` and returns its output, whatever the exit code. */
export async function runCommand(
  program: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const child = new Deno.Command(program, {
    args,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
  }, options.timeoutMs ?? 120_000);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** Runs the real kubectl as the tier's admin; throws with its output when it fails. */
export async function kubectl(
  args: string[],
  options: { stdin?: string; kubeconfig?: string; timeoutMs?: number } = {},
): Promise<string> {
  const result = await kubectlResult(args, options);
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(" ")} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

/** Runs the real kubectl and returns its result, failed or not. */
export function kubectlResult(
  args: string[],
  options: { stdin?: string; kubeconfig?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const tier = loadTier();
  return runCommand(tier.binaries.kubectl, ["--kubeconfig", options.kubeconfig ?? tier.adminKubeconfig, ...args], {
    stdin: options.stdin,
    timeoutMs: options.timeoutMs,
  });
}

/** `kubectl get ... -o json`, parsed; undefined when it is not found. */
export async function getObject(args: string[]): Promise<Record<string, unknown> | undefined> {
  const result = await kubectlResult(["get", ...args, "-o", "json"]);
  if (result.code !== 0) {
    if (/NotFound|not found/.test(result.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(" ")}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout);
}

/** Runs the real helm against the tier as its admin; returns the result. */
export function helm(args: string[]): Promise<CommandResult> {
  const tier = loadTier();
  return runCommand(tier.binaries.helm, [...args, "--kubeconfig", tier.adminKubeconfig], { timeoutMs: 300_000 });
}

/** Like {@linkcode helm}, but throws with helm's output when it fails. */
export async function helmOk(args: string[]): Promise<string> {
  const result = await helm(args);
  if (result.code !== 0) {
    throw new Error(`helm ${args.join(" ")} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

/** Polls `check` until it returns a value other than undefined; throws after `timeoutMs` with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`,
  );
}

/** A ServiceAccount identity for a host process: its token file and a kubeconfig that reads it. */
export interface ServiceAccountIdentity {
  tokenFile: string;
  kubeconfig: string;
  /** Writes a new token from the TokenRequest API into the token file (a rotation). */
  rotate(): Promise<string>;
}

/**
 * A bound token of ServiceAccount `namespace/name` from the TokenRequest
 * API, in a file under `dir`, and a kubeconfig whose user reads that file.
 */
export async function serviceAccountIdentity(
  dir: string,
  namespace: string,
  name: string,
): Promise<ServiceAccountIdentity> {
  const tier = loadTier();
  await Deno.mkdir(dir, { recursive: true });
  const tokenFile = join(dir, `${namespace}-${name}.token`);
  const kubeconfig = join(dir, `${namespace}-${name}.kubeconfig`);
  const rotate = async () => {
    const token = (await kubectl(["create", "token", name, "-n", namespace, "--duration", "1h"])).trim();
    // Written next to the file and renamed, as the kubelet swaps projected tokens.
    await Deno.writeTextFile(`${tokenFile}.new`, token);
    await Deno.rename(`${tokenFile}.new`, tokenFile);
    return token;
  };
  await rotate();
  await Deno.writeTextFile(kubeconfig, serviceAccountKubeconfig(tier, { tokenFile, namespace }));
  return { tokenFile, kubeconfig, rotate };
}

function serviceAccountKubeconfig(tier: TierEnv, options: { tokenFile: string; namespace: string }): string {
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "tier", cluster: { server: tier.server, "certificate-authority": tier.caCert } }],
      users: [{ name: "sa", user: { tokenFile: options.tokenFile } }],
      contexts: [{ name: "sa", context: { cluster: "tier", user: "sa", namespace: options.namespace } }],
      "current-context": "sa",
    },
    null,
    2,
  );
}

/** A fresh scratch directory for one scenario under the run directory. */
export async function scenarioDir(name: string): Promise<string> {
  const dir = join(loadTier().runDir, "scenarios", `${name}-${Date.now()}`);
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}
