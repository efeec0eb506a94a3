/**
 * Drives an HTTPS endpoint the way kube-apiserver calls an admission
 * webhook, with the Go load client of `bench/load_client/` (standard
 * library only): Go `net/http` over HTTP/1.1 with keep-alive and
 * `TCP_NODELAY`, a fixed number of connections with one request in flight
 * on each, for a fixed time, every request a POST of the same body.
 *
 * Why Go and not wrk: the delayed-ACK stall that decides the webhook's
 * design shows with the client kube-apiserver really uses, and the figures
 * should be those kube-apiserver would see.
 *
 * @module
 */

import { join } from "node:path";

const SOURCE_DIR = new URL("../load_client/", import.meta.url).pathname;

/** What one load run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Responses outside 2xx plus transport errors; must be 0 for a valid run. */
  errors: number;
  /** TCP connections opened: as many as asked for when keep-alive held. */
  connections: number;
  /** The protocol the server answered with, e.g. `HTTP/1.1`. */
  protocol: string;
  firstError?: string;
}

/** Options of {@linkcode runLoad}. */
export interface LoadOptions {
  /** The load client built by {@linkcode buildLoadClient}. */
  client: string;
  /** File whose bytes every request carries. */
  bodyFile: string;
  /** The CA the server's certificate chains to. */
  caFile: string;
  seconds: number;
  connections: number;
  /** Wraps the command line, e.g. to run the client in another network namespace. */
  wrap?: (command: string[]) => string[];
}

/**
 * Builds the Go load client into `dir` with `go build`; returns its path.
 *
 * @throws {Error} when Go is missing or the build fails.
 */
export async function buildLoadClient(dir: string): Promise<string> {
  const binary = join(dir, "load_client");
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("go", {
      args: ["build", "-o", binary, "."],
      cwd: SOURCE_DIR,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(`the webhook benchmark needs Go to build its load client: ${(error as Error).message}`);
  }
  if (!output.success) throw new Error(`go build failed: ${new TextDecoder().decode(output.stderr)}`);
  return binary;
}

/** Runs the load client against `url` and returns what it measured. */
export async function runLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  const wrap = options.wrap ?? ((command: string[]) => command);
  const [program, ...args] = wrap([
    options.client,
    "-url",
    url,
    "-body",
    options.bodyFile,
    "-cacert",
    options.caFile,
    "-connections",
    String(options.connections),
    "-seconds",
    String(options.seconds),
  ]);
  const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) throw new Error(`load client failed: ${new TextDecoder().decode(output.stderr)}${text}`);
  const result = JSON.parse(text) as LoadResult;
  if (result.requests === 0) throw new Error(`no request succeeded against ${url}: ${result.firstError}`);
  return result;
}
