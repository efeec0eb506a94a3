/**
 * Runs CoreDog entrypoints as real processes and reads their output.
 */

/** A child process whose stdout lines are collected. */
export interface RunningProcess {
  pid: number;
  lines: string[];
  stderr: string[];
  /** Resolves with the exit status. */
  status: Promise<Deno.CommandStatus>;
  /** Sends `signal`. */
  kill(signal?: Deno.Signal): void;
  /** Waits until a stdout line matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs `deno <args>` in the repository with `env`. */
export function runDeno(args: string[], options: { env?: Record<string, string> } = {}): RunningProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const stderr: string[] = [];
  collect(child.stdout, lines);
  collect(child.stderr, stderr);
  return {
    pid: child.pid,
    lines,
    stderr,
    status: child.status,
    kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
    async waitForLine(pattern: RegExp, timeoutMs = 30000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const hit = lines.find((line) => pattern.test(line));
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(
        `no line matching ${pattern} within ${timeoutMs} ms; stdout:\n${lines.join("\n")}\nstderr:\n${
          stderr.join("\n")
        }`,
      );
    },
  };
}

/**
 * Settles with `promise`, or fails after `timeoutMs` with an error naming
 * `what` (and the text `details` returns then), so that "never hangs" is
 * asserted by the test rather than left to a CI job's timeout. `onTimeout`
 * runs first, e.g. to SIGKILL a process that did not exit.
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  what: string,
  options: { timeoutMs: number; onTimeout?: () => void | Promise<void>; details?: () => string },
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), options.timeoutMs));
  try {
    const winner = await Promise.race([promise, deadline]);
    if (winner !== "timeout") return winner as T;
  } finally {
    clearTimeout(timer);
  }
  await options.onTimeout?.();
  const details = options.details?.() ?? "";
  throw new Error(`${what} did not finish within ${options.timeoutMs} ms${details ? `\n${details}` : ""}`);
}

/**
 * Waits for `process` to exit, for at most `timeoutMs` (10 s by default).
 * One still running then is SIGKILLed, and the wait fails with its last
 * log lines.
 */
export async function exitWithin(process: RunningProcess, timeoutMs = 10_000): Promise<Deno.CommandStatus> {
  return await withDeadline(process.status, `process ${process.pid}`, {
    timeoutMs,
    onTimeout: async () => {
      process.kill("SIGKILL");
      await process.status;
    },
    details: () => lastLines(process),
  });
}

/** The last lines of a process's stdout and stderr, for failure messages. */
export function lastLines(process: RunningProcess, count = 20): string {
  return `last stdout lines:\n${process.lines.slice(-count).join("\n")}\nlast stderr lines:\n${
    process.stderr.slice(-count).join("\n")
  }`;
}

function collect(stream: ReadableStream<Uint8Array>, into: string[]): void {
  (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      into.push(...parts);
    }
    if (rest) into.push(rest);
  })();
}

/** True when every one of `tools` is on PATH; tests that need them are ignored otherwise. */
export function hasTools(...tools: string[]): boolean {
  return tools.every((tool) => {
    try {
      return new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" }).outputSync().success;
    } catch {
      return false;
    }
  });
}
