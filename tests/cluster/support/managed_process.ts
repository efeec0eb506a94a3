/**
 * A long-running program of the tier (etcd, kube-apiserver, a CoreDog
 * role...) with its output in a log file, stopped by its own process id.
 *
 * @module
 */

import { lastLines } from "./binaries.ts";

/** A started program. */
export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  /** True once it has exited. */
  exited(): boolean;
  /** Its log so far. */
  log(): Promise<string>;
  /** The last `count` lines of its log. */
  tail(count?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@linkcode startProcess}. */
export interface StartProcessOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts `command` with stdout and stderr appended to `logFile`. */
export async function startProcess(
  name: string,
  command: string[],
  logFile: string,
  options: StartProcessOptions = {},
): Promise<ManagedProcess> {
  const file = await Deno.open(logFile, { create: true, append: true });
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = file.writable.getWriter();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await writer.write(chunk);
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]).finally(() => writer.close().catch(() => {}));
  let done = false;
  const status = child.status.then(async (s) => {
    done = true;
    await pumped.catch(() => {});
    return s;
  });
  return {
    name,
    pid: child.pid,
    logFile,
    status,
    exited: () => done,
    log: () => Deno.readTextFile(logFile),
    async tail(count = 25) {
      return lastLines(await Deno.readTextFile(logFile).catch(() => ""), count);
    },
    async stop(graceMs = 10_000) {
      if (done) return;
      try {
        child.kill("SIGTERM");
      } catch {
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), graceMs));
      const result = await Promise.race([status.then(() => "exited" as const), timeout]);
      clearTimeout(timer);
      if (result === "timeout") {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
        await status;
      }
    },
  };
}

/**
 * Polls `check` until it resolves true, failing with the process's last
 * log lines when it exits first or `timeoutMs` passes.
 */
export async function waitUntil(
  process: ManagedProcess,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.exited()) {
      throw new Error(`${process.name} exited before ${what}; its last log lines:\n${await process.tail()}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${process.name}: no ${what} within ${timeoutMs} ms; its last log lines:\n${await process.tail()}`);
}
