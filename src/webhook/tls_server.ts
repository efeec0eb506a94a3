/**
 * An HTTPS server whose certificate can be replaced while it runs, serving
 * a `Request` to `Response` handler.
 *
 * One `node:https` server: `setSecureContext` swaps the certificate for new
 * connections while open ones finish on the old one, so the port never
 * closes, and every accepted socket gets `TCP_NODELAY`.
 *
 * Why not `Deno.serve` with TLS: it takes its certificate once, and it
 * leaves Nagle's algorithm on. Its responses over about 400 bytes go out
 * as two TLS records, and the second waits for the client's delayed ACK:
 * about 44 ms per AdmissionReview with a Go `net/http` client such as
 * kube-apiserver (bench/findings.md).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type http from "node:http";
import https from "node:https";
import type net from "node:net";
import { checkServingPair } from "../tls/certificates.ts";

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
  /** Called when the handler throws; a bare 500 without it. */
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
/** How long a closed keep-alive connection gets to say goodbye (TLS close_notify) before it is cut. */
const CLOSE_GRACE_MS = 1000;

/**
 * Starts serving HTTPS with `pair` on `options.port`.
 *
 * @throws {Error} when the pair is unusable.
 */
export function serveTls(pair: CertificatePair, options: TlsServerOptions): ReloadableTlsServer {
  checkServingPair(pair);
  /** Every TCP connection, also those still in their handshake: shutdown must be able to close them all. */
  const sockets = new Set<net.Socket>();
  /** Every TLS connection and how many requests on it are being answered. */
  const answering = new Map<net.Socket, number>();
  let stopping = false;
  let drained: (() => void) | undefined;

  const server = https.createServer(
    { cert: pair.certPem, key: pair.keyPem, ALPNProtocols: ["http/1.1"], noDelay: true },
    (incoming, outgoing) => {
      const socket = incoming.socket;
      answering.set(socket, (answering.get(socket) ?? 0) + 1);
      outgoing.on("close", () => {
        if (answering.has(socket)) answering.set(socket, answering.get(socket)! - 1);
        // After a shutdown began, a connection is closed once its answer is out.
        if (stopping) closeIdle();
      });
      void answer(incoming, outgoing, options);
    },
  );
  server.on("connection", (socket: net.Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("secureConnection", (socket: net.Socket) => {
    answering.set(socket, answering.get(socket) ?? 0);
    socket.on("close", () => {
      answering.delete(socket);
      if (stopping) closeIdle();
    });
  });

  /** Ends every connection with no answer in progress (close_notify, then FIN); says when none is left busy. */
  function closeIdle(): void {
    let busy = 0;
    for (const [socket, count] of answering) {
      if (count > 0) busy++;
      else socket.end();
    }
    if (busy === 0) drained?.();
  }

  const hostname = options.hostname ?? "0.0.0.0";
  const listening = new Promise<Deno.NetAddr>((resolve, reject) => {
    server.once("error", (error: Error) => {
      reject(new ListenError(`cannot listen on ${hostname}:${options.port}: ${error.message}`, { cause: error }));
    });
    server.listen(options.port, hostname, () => {
      const address = server.address() as net.AddressInfo;
      resolve({ transport: "tcp", hostname: address.address, port: address.port });
    });
  });
  listening.catch(() => {});

  return {
    listening,
    reload(next: CertificatePair): void {
      if (stopping) throw new Error("the server is shutting down");
      checkServingPair(next);
      server.setSecureContext({ cert: next.certPem, key: next.keyPem });
    },
    async shutdown(): Promise<void> {
      if (stopping) return;
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const idle = new Promise<void>((resolve) => drained = resolve);
      closeIdle();
      await Promise.race([idle, sleep(DRAIN_MS)]);
      // Ended connections close once the client has read the last bytes; cut the ones that do not.
      await Promise.race([closed, sleep(CLOSE_GRACE_MS)]);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Resolves after `ms`, without keeping the process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    Deno.unrefTimer(timer);
  });
}

/**
 * Largest body read in full before the handler runs, when its length is
 * declared (kube-apiserver always declares it): handing the handler bytes
 * is cheaper than a stream fed from Node events, and served more requests
 * per second in the webhook benchmark. Bodies without a length, or longer,
 * stream, so the handler can refuse them before they have arrived.
 */
const BUFFERED_BODY_BYTES = 1024 * 1024;

/** Runs the handler on one request and writes its response in a single write. */
async function answer(
  incoming: http.IncomingMessage,
  outgoing: http.ServerResponse,
  options: TlsServerOptions,
): Promise<void> {
  let request: Request;
  try {
    request = await toRequest(incoming);
  } catch {
    // The client went away before its body was complete: nobody to answer.
    outgoing.destroy();
    return;
  }
  let response: Response;
  try {
    response = await options.handler(request);
  } catch (error) {
    response = options.onError ? await options.onError(error) : new Response("internal error\n", { status: 500 });
  }
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => headers[name] = value);
  headers["content-length"] = String(body.byteLength);
  // Answered before the body was read (too large, wrong path): the rest of it
  // would stand in front of the next request, so the connection ends here.
  if (!incoming.complete) headers["connection"] = "close";
  outgoing.writeHead(response.status, headers);
  outgoing.end(body);
}

/** The web `Request` of a Node request (see {@linkcode BUFFERED_BODY_BYTES} for when its body streams). */
async function toRequest(incoming: http.IncomingMessage): Promise<Request> {
  // Node joins repeated request headers with ", " (set-cookie aside, which requests do not carry).
  const headers = incoming.headers as Record<string, string>;
  const method = incoming.method ?? "GET";
  const url = `https://${HOST}${incoming.url ?? "/"}`;
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  const declared = Number(incoming.headers["content-length"] ?? NaN);
  if (declared >= 0 && declared <= BUFFERED_BODY_BYTES) {
    return new Request(url, { method, headers, body: await readBody(incoming) });
  }
  return new Request(url, { method, headers, body: bodyStream(incoming) });
}

/**
 * The body as a web stream that reads from the socket only as fast as the
 * handler reads; once the handler cancels it (a body over the limit), the
 * rest is discarded and the answer closes the connection.
 */
function bodyStream(incoming: http.IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      incoming.on("data", (chunk: Buffer) => {
        if (!open) return;
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) incoming.pause();
      });
      incoming.on("end", () => {
        if (open) controller.close();
        open = false;
      });
      const fail = (error: Error) => {
        if (open) controller.error(error);
        open = false;
      };
      incoming.on("error", fail);
      incoming.on("close", () => {
        if (!incoming.complete) fail(new Error("the client closed the connection before the body was complete"));
      });
    },
    pull() {
      incoming.resume();
    },
    cancel() {
      open = false;
      incoming.resume();
    },
  }, new CountQueuingStrategy({ highWaterMark: 16 }));
}

/** The whole body; rejects when the client goes away first. */
function readBody(incoming: http.IncomingMessage): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    incoming.on("error", reject);
    incoming.on("close", () => {
      if (!incoming.complete) reject(new Error("the client closed the connection before the body was complete"));
    });
  });
}

/** The handler routes by path only; the client's Host header stays in the headers. */
const HOST = "webhook.local";
