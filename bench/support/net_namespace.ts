/**
 * Where the webhook benchmark's servers and load generator talk: the
 * machine's own loopback, or a private network namespace whose loopback
 * routes carry `quickack 1`, so that every receiver ACKs at once instead
 * of delaying its ACK by up to 40 ms.
 *
 * Why both: Deno.serve over TLS leaves Nagle's algorithm on and writes a
 * response larger than about 400 bytes as two TLS records (headers, then
 * body). The second waits until the first is ACKed, and a Linux client in
 * request-response mode delays that ACK by 40 ms, so each response on a
 * keep-alive connection stalls ~40 ms. The default namespace shows what
 * kube-apiserver would see; the quick-ACK one removes the stall and shows
 * what the servers themselves can do.
 *
 * The namespace is held by an `unshare -n sleep` process of our own and
 * entered with `nsenter`; nothing on the machine's network changes.
 *
 * @module
 */

/** A network namespace commands can be run in. */
export interface NetNamespace {
  /** `default` or `quickack`. */
  name: string;
  /** The command line that runs `command` inside the namespace. */
  wrap(command: string[]): string[];
  /** Ends the namespace (nothing for the default one). */
  close(): Promise<void>;
}

/** The machine's own network: commands run as they are. */
export function defaultNamespace(): NetNamespace {
  return { name: "default", wrap: (command) => command, close: () => Promise.resolve() };
}

/**
 * A private namespace with loopback up and quick ACKs on its routes.
 * Throws with the reason when namespaces cannot be made here (no root, no
 * `unshare`).
 */
export async function startQuickAckNamespace(): Promise<NetNamespace> {
  const holder = new Deno.Command("unshare", {
    args: ["-n", "sleep", "86400"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const pid = holder.pid;
  const wrap = (command: string[]) => ["nsenter", "-t", String(pid), "-n", ...command];
  const close = async () => {
    try {
      holder.kill("SIGKILL");
    } catch {
      // already gone
    }
    await holder.status;
  };
  try {
    // Wait until unshare has switched namespaces (its own net ns differs from ours).
    const ours = await Deno.readLink("/proc/self/ns/net");
    for (let i = 0; i < 100 && (await Deno.readLink(`/proc/${pid}/ns/net`).catch(() => ours)) === ours; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const route = "dev lo table local proto kernel scope host src 127.0.0.1 quickack 1";
    for (
      const step of [
        "ip link set lo up",
        `ip route change local 127.0.0.0/8 ${route}`,
        `ip route change local 127.0.0.1 ${route}`,
      ]
    ) {
      const output = await new Deno.Command(wrap(step.split(" "))[0], {
        args: wrap(step.split(" ")).slice(1),
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!output.success) throw new Error(`${step}: ${new TextDecoder().decode(output.stderr).trim()}`);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { name: "quickack", wrap, close };
}

/** Runs `command` in `ns` and returns its output; throws when it fails. */
export async function runIn(ns: NetNamespace, command: string[]): Promise<string> {
  const [program, ...args] = ns.wrap(command);
  const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`${command[0]} failed: ${new TextDecoder().decode(output.stderr)}${text}`.slice(0, 2000));
  }
  return text;
}
