/**
 * A server run as its own process with its output going to a file, as a
 * container runtime collects a pod's stdout, so that the server pays for
 * its own log lines the way it would in a cluster and the benchmark does
 * not spend CPU reading them. The shell `exec`s the server, so the pid is
 * the server's own and /proc figures are the server's.
 *
 * @module
 */

/** How long a server may take to accept connections before its start counts as failed. */
const START_TIMEOUT_MS = 60_000;

/** A running server process. */
export interface ServerProcess {
  pid: number;
  logFile: string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startServerProcess}. */
export interface ServerProcessOptions {
  /** Working directory (the repository, for relative script paths). */
  cwd: string;
  logFile: string;
  /** The server is ready when this loopback port accepts connections (log lines may be turned off). */
  port: number;
  env?: Record<string, string>;
  /** Wraps the command line, e.g. to run it in another network namespace. */
  wrap?: (command: string[]) => string[];
}

/** Runs `deno <args>` and waits until it accepts connections on `options.port`. */
export async function startServerProcess(args: string[], options: ServerProcessOptions): Promise<ServerProcess> {
  const wrap = options.wrap ?? ((command: string[]) => command);
  const [program, ...rest] = wrap(["sh", "-c", 'exec "$@" >"$LOG_FILE" 2>&1', "sh", Deno.execPath(), ...args]);
  const child = new Deno.Command(program, {
    args: rest,
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env, LOG_FILE: options.logFile },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    await status;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!exited && await listening(child.pid, options.port)) break;
    if (exited || Date.now() > deadline) {
      await stop();
      const text = await Deno.readTextFile(options.logFile).catch(() => "");
      throw new Error(`${args.join(" ")} did not start:\n${text.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid, logFile: options.logFile, stop };
}

/**
 * True when the process has a TCP socket listening on `port`. Read from
 * /proc/<pid>/net/tcp, which shows the process's own network namespace,
 * so it works for a server in another namespace too.
 */
async function listening(pid: number, port: number): Promise<boolean> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["tcp", "tcp6"]) {
    const text = await Deno.readTextFile(`/proc/${pid}/net/${table}`).catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A") return true;
    }
  }
  return false;
}
