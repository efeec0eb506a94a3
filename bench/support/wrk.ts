/**
 * Drives an HTTPS endpoint with `wrk` (Debian's package): HTTP/1.1 over
 * TLS with keep-alive, a fixed number of connections for a fixed time,
 * every request a POST of the same body.
 *
 * wrk rather than autocannon: it is C with one event-loop thread, so on a
 * two-core machine it leaves most of a core to the server under test,
 * where autocannon (JavaScript) would need a core of its own to drive the
 * same rate and would measure itself as much as the server; and it needs
 * no change to deno.json or the frozen lockfile.
 *
 * @module
 */

import { join } from "node:path";

/** wrk threads: 1 leaves the other core to the server. */
const THREADS = 1;

/** What wrk measured. */
export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Responses outside 2xx/3xx plus socket errors; must be 0 for a valid run. */
  errors: number;
}

/** Options of {@linkcode runWrk}. */
export interface WrkOptions {
  body: string;
  seconds: number;
  connections: number;
  /** Where the Lua script is written. */
  scratchDir: string;
  /** Wraps the command line, e.g. to run wrk in another network namespace. */
  wrap?: (command: string[]) => string[];
}

/** Runs wrk against `url` and parses its report. */
export async function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const script = join(options.scratchDir, "post.lua");
  await Deno.writeTextFile(
    script,
    [
      'wrk.method = "POST"',
      'wrk.headers["Content-Type"] = "application/json"',
      `wrk.body = ${JSON.stringify(options.body)}`,
      "",
    ].join("\n"),
  );
  const wrap = options.wrap ?? ((command: string[]) => command);
  const [program, ...args] = wrap([
    "wrk",
    `-t${THREADS}`,
    `-c${options.connections}`,
    `-d${Math.max(1, Math.round(options.seconds))}s`,
    "--latency",
    "-s",
    script,
    url,
  ]);
  const output = await new Deno.Command(program, {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) throw new Error(`wrk failed: ${new TextDecoder().decode(output.stderr)}${text}`);
  return parseWrk(text);
}

/** Parses wrk's text report. */
export function parseWrk(text: string): WrkResult {
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const requests = Number(text.match(/(\d+) requests in/)?.[1] ?? NaN);
  const latency = (p: string) => toMs(text.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m")));
  const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = socket ? socket.slice(1).reduce((sum, v) => sum + Number(v), 0) : 0;
  return {
    requestsPerSecond: rps,
    requests,
    p50Ms: latency("50"),
    p90Ms: latency("90"),
    p99Ms: latency("99"),
    errors: non2xx + socketErrors,
  };
}

function toMs(match: RegExpMatchArray | null): number {
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "s" ? value * 1000 : value;
}
