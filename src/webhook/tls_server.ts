/**
 * An HTTPS server whose certificate can be replaced while it runs.
 *
 * TLS is terminated by a `node:tls` server on the public port, whose
 * certificate `setSecureContext` swaps for new connections while open ones
 * finish on the old one, so the port never closes. Each connection's
 * plaintext goes to the `Deno.serve` handler over an abstract Unix socket
 * (no file, no write permission, private to the pod's network namespace).
 *
 * Why not `Deno.serve` with TLS directly: it takes its certificate once, and
 * it leaves Nagle's algorithm on. Its responses over about 400 bytes go out
 * as two TLS records, and the second waits for the client's delayed ACK:
 * 40 ms per AdmissionReview (bench/findings.md). Here the public socket has
 * `TCP_NODELAY`, and a Unix socket has no Nagle at all.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import net from "node:net";
import tls from "node:tls";

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
  /** The public address once listening; rejects with {@linkcode ListenError}. */
  readonly listening: Promise<Deno.NetAddr>;
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

/** How long a shutdown waits for requests in flight. */
const DRAIN_MS = 30_000;
/** After the last answer, how long its bytes get to pass the relay before connections are closed. */
const FLUSH_MS = 200;

/**
 * Starts serving HTTPS with `pair` on `options.port`.
 *
 * @throws {Error} when the pair is unusable.
 */
export function serveTls(pair: CertificatePair, options: TlsServerOptions): ReloadableTlsServer {
  checkPair(pair);
  const socketName = `\0coredog-webhook-${crypto.randomUUID()}`;
  let inFlight = 0;
  const counted = async (request: Request): Promise<Response> => {
    inFlight++;
    try {
      return await options.handler(request);
    } finally {
      inFlight--;
    }
  };
  const backend = Deno.serve({ path: socketName, onListen() {}, onError: options.onError }, counted);
  const connections = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: pair.certPem, key: pair.keyPem, ALPNProtocols: ["http/1.1"], allowHalfOpen: true },
    (client) => relay(client, socketName, connections),
  );
  // Every TCP connection, also those still in their handshake: shutdown must be able to close them all.
  server.on("connection", (socket: net.Socket) => {
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
  });
  const hostname = options.hostname ?? "0.0.0.0";
  const listening = new Promise<Deno.NetAddr>((resolve, reject) => {
    server.once("error", (error: Error) => {
      void backend.shutdown();
      reject(new ListenError(`cannot listen on ${hostname}:${options.port}: ${error.message}`, { cause: error }));
    });
    server.listen(options.port, hostname, () => {
      const address = server.address() as net.AddressInfo;
      resolve({ transport: "tcp", hostname: address.address, port: address.port });
    });
  });
  listening.catch(() => {});
  let stopping = false;

  return {
    listening,
    reload(next: CertificatePair): void {
      if (stopping) throw new Error("the server is shutting down");
      checkPair(next);
      server.setSecureContext({ cert: next.certPem, key: next.keyPem });
    },
    async shutdown(): Promise<void> {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + DRAIN_MS;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // The handler has answered; let the last bytes reach the clients, then
      // close every connection (idle keep-alive ones would hold the backend open).
      await new Promise((r) => setTimeout(r, FLUSH_MS));
      for (const socket of connections) socket.destroy();
      await backend.shutdown();
      await closed;
    },
  };
}

/** Pipes one decrypted client connection to the handler's socket and back. */
function relay(client: tls.TLSSocket, socketName: string, connections: Set<net.Socket>): void {
  client.setNoDelay(true);
  const upstream = net.connect(socketName);
  connections.add(client);
  connections.add(upstream);
  const close = () => {
    client.destroy();
    upstream.destroy();
    connections.delete(client);
    connections.delete(upstream);
  };
  client.on("error", close);
  upstream.on("error", close);
  // A client that half-closes after its request still gets the answer: only
  // the handler's side ending ends the connection.
  client.on("end", () => upstream.end());
  upstream.on("end", close);
  client.on("close", close);
  client.pipe(upstream, { end: false });
  upstream.pipe(client, { end: false });
}

/** Refuses a pair that would fail every handshake, so that the previous one stays in use. */
function checkPair(pair: CertificatePair): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.certPem);
  } catch (error) {
    throw new Error(`the certificate is not a PEM X.509 certificate: ${(error as Error).message}`);
  }
  if (cert.ca) throw new Error("the certificate is a CA certificate; serve a leaf certificate issued by the CA");
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pair.keyPem));
  } catch (error) {
    throw new Error(`the key is not a PEM private key: ${(error as Error).message}`);
  }
  if (!matches) throw new Error("the certificate and key cannot serve TLS: the key does not match the certificate");
}
