/**
 * An HTTPS server whose certificate can be replaced while it runs.
 *
 * Deno.serve takes its certificate once, at start. To swap it without a
 * moment where the port refuses connections, the public port is a plain
 * TCP listener that relays each connection, bytes unchanged, to a
 * Deno.serve TLS backend on a loopback port. A new certificate starts a new
 * backend; new connections go there, and the old backend is shut down
 * gracefully, finishing the requests it has in flight. TLS is still
 * end to end between the client and Deno.serve, so ALPN (HTTP/2) works.
 *
 * (Two Deno.serve listeners sharing the port with `reusePort` would avoid
 * the relay, but Deno 2.9 needs `--unstable-net` for that with TLS, and the
 * kernel resets connections queued on a listener that closes.)
 *
 * @module
 */

import { describeCertificate } from "../tls/certificates.ts";

/** A certificate chain and its key, PEM. */
export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

/** The public port could not be opened (in use, not permitted, no such address). */
export class ListenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ListenError";
  }
}

/** Options of {@linkcode serveTls}. */
export interface TlsServerOptions {
  /** Public port; 0 picks a free one. */
  port: number;
  /** Public address; `0.0.0.0` by default. */
  hostname?: string;
  handler: (request: Request) => Response | Promise<Response>;
  /** Called when the handler throws. */
  onError?: (error: unknown) => Response | Promise<Response>;
}

/** A running server; see {@linkcode serveTls}. */
export interface ReloadableTlsServer {
  /** The public address. */
  readonly addr: Deno.NetAddr;
  /**
   * Serves new connections with `pair`; connections already open finish on
   * the previous certificate.
   *
   * @throws {Error} when the pair is unusable (not PEM, key and certificate
   * do not match, a CA certificate); the previous one stays in use.
   */
  reload(pair: CertificatePair): void;
  /** Stops accepting, waits for requests in flight, then closes every connection. */
  shutdown(): Promise<void>;
}

const LOOPBACK = "127.0.0.1";
const RELAY_BUFFER_BYTES = 64 * 1024;
/** How long a shutdown lets relays pass on what the backends already answered. */
const RELAY_FLUSH_GRACE_MS = 5_000;

/**
 * Starts serving HTTPS with `pair` on `options.port`.
 *
 * @throws {ListenError} when the port cannot be opened.
 * @throws {Error} when the pair is unusable.
 */
export function serveTls(pair: CertificatePair, options: TlsServerOptions): ReloadableTlsServer {
  let current = startBackend(pair, options);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
  } catch (error) {
    void current.shutdown();
    const where = `${options.hostname ?? "0.0.0.0"}:${options.port}`;
    throw new ListenError(`cannot listen on ${where}: ${(error as Error).message}`, { cause: error });
  }
  const retiring = new Set<Promise<void>>();
  const relays = new Set<Promise<void>>();
  const open = new Set<Deno.Conn>();
  let stopping = false;

  const accepting = (async () => {
    try {
      for await (const client of listener) {
        const relay = relayConnection(client).finally(() => relays.delete(relay));
        relays.add(relay);
      }
    } catch {
      // The listener was closed by shutdown.
    }
  })();

  async function relayConnection(client: Deno.TcpConn): Promise<void> {
    open.add(client);
    const upstream = await connectBackend();
    if (!upstream) {
      closeQuietly(client);
      open.delete(client);
      return;
    }
    open.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const closeBoth = () => {
      closeQuietly(client);
      closeQuietly(upstream);
    };
    const toBackend = pump(client, upstream).then(
      // The client finished sending (half-close); the backend may still answer.
      () => upstream.closeWrite().catch(closeBoth),
      closeBoth,
    );
    // When the backend is done, so is the connection.
    const toClient = pump(upstream, client).then(closeBoth, closeBoth);
    await Promise.allSettled([toBackend, toClient]);
    open.delete(client);
    open.delete(upstream);
  }

  async function connectBackend(): Promise<Deno.TcpConn | undefined> {
    // A backend retired between accept and connect has closed its port; the current one takes over.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return await Deno.connect({ hostname: LOOPBACK, port: current.addr.port });
      } catch {
        // Retried once with the backend current at that moment.
      }
    }
    return undefined;
  }

  return {
    addr: listener.addr,
    reload(next: CertificatePair): void {
      if (stopping) throw new Error("the server is shutting down");
      const backend = startBackend(next, options);
      const previous = current;
      current = backend;
      const retired = previous.shutdown().finally(() => retiring.delete(retired));
      retiring.add(retired);
    },
    async shutdown(): Promise<void> {
      if (stopping) return;
      stopping = true;
      listener.close();
      await accepting;
      await Promise.allSettled([current.shutdown(), ...retiring]);
      // The backends have answered, but the last bytes may still be on their way through a relay;
      // only a client that stops reading is cut off.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, RELAY_FLUSH_GRACE_MS));
      await Promise.race([Promise.allSettled([...relays]), grace]);
      clearTimeout(timer);
      for (const conn of open) closeQuietly(conn);
      await Promise.allSettled([...relays]);
    },
  };
}

function startBackend(pair: CertificatePair, options: TlsServerOptions): Deno.HttpServer<Deno.NetAddr> {
  let summary;
  try {
    summary = describeCertificate(pair.certPem);
  } catch (error) {
    throw new Error(`the certificate is not a PEM X.509 certificate: ${(error as Error).message}`);
  }
  if (summary.isCa) {
    throw new Error("the certificate is a CA certificate; serve a leaf certificate issued by the CA");
  }
  try {
    return Deno.serve({
      hostname: LOOPBACK,
      port: 0,
      cert: pair.certPem,
      key: pair.keyPem,
      onListen() {},
      onError: options.onError,
    }, options.handler);
  } catch (error) {
    throw new Error(`the certificate and key cannot serve TLS: ${(error as Error).message}`);
  }
}

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(RELAY_BUFFER_BYTES);
  while (true) {
    const n = await from.read(buffer);
    if (n === null) return;
    let written = 0;
    while (written < n) written += await to.write(buffer.subarray(written, n));
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
