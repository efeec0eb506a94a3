/**
 * Starts and stops the real S3 server process for tests.
 */

import { join } from "node:path";
import { withDeadline } from "./process.ts";

/** Access key the test server accepts (s3rver's built-in account). */
export const S3_ACCESS_KEY = "S3RVER";
/** Secret key the test server accepts. */
export const S3_SECRET_KEY = "S3RVER";

/** A running S3 server. */
export interface S3Server {
  endpoint: string;
  port: number;
  /** The server process (benchmarks account for its CPU). */
  pid: number;
  dir: string;
  /** Stops it gracefully. */
  stop(): Promise<void>;
  /** SIGKILLs it (a crashed or unreachable store). */
  kill(): Promise<void>;
}

const SCRIPT = new URL("./s3_server_process.ts", import.meta.url).pathname;

/** Starts s3rver with `buckets` on `port` (a free one by default), storing under `dir`. */
export async function startS3Server(
  dir: string,
  options: { buckets?: string[]; port?: number } = {},
): Promise<S3Server> {
  const port = options.port ?? freePort();
  const data = join(dir, "s3data");
  await Deno.mkdir(data, { recursive: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, data, String(port), ...(options.buckets ?? ["cores"])],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const listening = async () => {
    while (!seen.includes("listening")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`s3 server exited before listening: ${seen}`);
      seen += value;
    }
  };
  await withDeadline(listening(), `the S3 server (pid ${child.pid}) to listen`, {
    timeoutMs: 30_000,
    onTimeout: async () => {
      child.kill("SIGKILL");
      await child.status;
    },
    details: () => `stdout so far: ${seen}`,
  });
  // Keep draining so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  async function end(signal: Deno.Signal): Promise<void> {
    if (!exited) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
    await withDeadline(status, `the S3 server (pid ${child.pid}) after ${signal}`, {
      timeoutMs: 10_000,
      onTimeout: async () => {
        child.kill("SIGKILL");
        await status;
      },
    });
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    dir: data,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
}

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
