/**
 * An HTTPS server whose certificate can be replaced while it runs, serving
 * a `Request` to `Response` handler with `Deno.serve`.
 *
 * `Deno.serve` takes its certificate once, so a new certificate gets a new
 * server on the same port (`reusePort`): it listens before the previous
 * one stops, so the port never closes, and from then on it gets every new
 * connection. The previous server answers what reaches it for one more
 * second with `connection: close`, then stops accepting, finishes its
 * requests in flight and closes its idle keep-alive connections. A swap
 * asked for during that second waits for it.
 *
 * Every listening socket gets `TCP_NODELAY`; both socket options are in
 * `listener_sockets.ts`, with the figures that call for them.
 *
 * @module
 */

import { checkServingPair } from "../tls/certificates.ts";
import { isListening, type ListenerPreparation, prepareNewestListener } from "./listener_sockets.ts";

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
  /**
   * Called when a listening socket could not be prepared (see
   * `listener_sockets.ts`): the server serves anyway, each answer slower
   * without `TCP_NODELAY`, and a swap may reset a connection without the
   * steering program.
   */
  onListenerProblem?: (preparation: ListenerPreparation) => void;
  /** Called when a swap that waited for the previous one could not open its server; the current one keeps serving. */
  onSwapError?: (error: unknown) => void;
}

/** A running server; see {@linkcode serveTls}. */
export interface ReloadableTlsServer {
  /** The public address once listening; rejects with {@linkcode ListenError}. */
  readonly listening: Promise<Deno.NetAddr>;
  /**
   * Serves new connections with `pair` (within about a second when a swap
   * is already under way); requests in flight finish on the previous
   * certificate, and its keep-alive connections are closed.
   *
   * @throws {Error} when the pair is unusable (not PEM, key and certificate
   * do not match, a CA certificate); the previous one stays in use.
   */
  reload(pair: CertificatePair): void;
  /**
   * Stops accepting, waits for requests in flight, then closes every
   * connection. Resolves false when requests were still in flight after
   * {@linkcode DRAIN_MS}.
   */
  shutdown(): Promise<boolean>;
}

/**
 * How long a shutdown waits for requests in flight. kube-apiserver gives
 * a webhook call at most 30 seconds, so nothing useful is cut off.
 */
export const DRAIN_MS = 30_000;
/**
 * How long the previous server keeps its listener after a swap: the
 * connections it accepted just before finish their handshake and send
 * their request, and it answers each with `connection: close`, so clients
 * reconnect to the new one instead of racing its close.
 */
const HANDOVER_MS = 1000;
/** The longest wait for a retired listener to be closed before the next swap. */
const LISTENER_CLOSE_WAIT_MS = 1000;

/** One `Deno.serve` server, with one certificate. */
interface Serving {
  server: Deno.HttpServer<Deno.NetAddr>;
  /** Its listening socket's descriptor, when it could be found. */
  fd?: number;
  /** A newer server has its port: each answer tells the client to reconnect. */
  retiring: boolean;
  stopped?: Promise<void>;
}

/**
 * Starts serving HTTPS with `pair` on `options.port`.
 *
 * @throws {Error} when the pair is unusable.
 */
export function serveTls(pair: CertificatePair, options: TlsServerOptions): ReloadableTlsServer {
  checkServingPair(pair);
  const hostname = options.hostname ?? "0.0.0.0";
  const onError = options.onError ?? (() => new Response("internal error\n", { status: 500 }));
  /** Every server not stopped yet: the current one, and one retiring after a swap. */
  const servers = new Set<Serving>();
  let current: Serving | undefined;
  /** Runs while a previous server retires; a swap asked for meanwhile waits in `pending`, the newest winning. */
  let handover: Promise<void> | undefined;
  let pending: CertificatePair | undefined;
  let stopping = false;
  /** What the first shutdown resolves with; every later call gets the same. */
  let drained: Promise<boolean> | undefined;

  function open(next: CertificatePair, port: number): Serving {
    const serving: Serving = { retiring: false } as Serving;
    serving.server = Deno.serve({
      hostname,
      port,
      cert: next.certPem,
      key: next.keyPem,
      reusePort: true,
      // Deno.serve prints "Listening on ..." without it; the webhook logs its own line.
      onListen: () => {},
      onError,
    }, (request) => {
      const response = options.handler(request);
      // Only a retiring server pays for the extra step.
      return serving.retiring ? Promise.resolve(response).then(withConnectionClose) : response;
    });
    const prepared = prepareNewestListener(serving.server.addr.port);
    serving.fd = prepared.fd;
    if (prepared.problem) options.onListenerProblem?.(prepared);
    servers.add(serving);
    return serving;
  }

  function stop(serving: Serving): Promise<void> {
    serving.stopped ??= serving.server.shutdown().finally(() => servers.delete(serving));
    return serving.stopped;
  }

  function swap(next: CertificatePair): void {
    const previous = current!;
    current = open(next, previous.server.addr.port);
    previous.retiring = true;
    handover = retire(previous).finally(() => {
      handover = undefined;
      const waiting = pending;
      pending = undefined;
      if (!waiting || stopping) return;
      try {
        swap(waiting);
      } catch (error) {
        options.onSwapError?.(error);
      }
    });
  }

  async function retire(previous: Serving): Promise<void> {
    await sleep(HANDOVER_MS);
    if (stopping) return;
    void stop(previous);
    // The steering program picks the port's second socket: the next swap must find this one closed.
    const port = previous.server.addr.port;
    const deadline = Date.now() + LISTENER_CLOSE_WAIT_MS;
    while (previous.fd !== undefined && isListening(previous.fd, port) && Date.now() < deadline) await sleep(5);
  }

  function stopAll(): Promise<boolean> {
    stopping = true;
    pending = undefined;
    const stopped = Promise.all([...servers].map(stop)).then(() => true);
    return Promise.race([stopped, sleep(DRAIN_MS).then(() => false)]);
  }

  const listening = new Promise<Deno.NetAddr>((resolve, reject) => {
    try {
      if (options.port !== 0) refuseTakenPort(hostname, options.port);
      current = open(pair, options.port);
      resolve(current.server.addr);
    } catch (error) {
      const message = `cannot listen on ${hostname}:${options.port}: ${(error as Error).message}`;
      reject(new ListenError(message, { cause: error }));
    }
  });
  listening.catch(() => {});

  return {
    listening,
    reload(next: CertificatePair): void {
      if (stopping) throw new Error("the server is shutting down");
      if (!current) throw new Error("the server is not listening");
      checkServingPair(next);
      if (handover) pending = next;
      else swap(next);
    },
    shutdown(): Promise<boolean> {
      drained ??= stopAll();
      return drained;
    },
  };
}

/** `response` with `connection: close`, which makes the client open its next connection anew. */
function withConnectionClose(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set("connection", "close");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * Throws when something else listens on the port. `reusePort`, which a
 * certificate swap needs, would otherwise let a second webhook of the same
 * user share the port (and its traffic) without an error.
 */
function refuseTakenPort(hostname: string, port: number): void {
  const probe = Deno.listen({ hostname, port });
  probe.close();
}

/** Resolves after `ms`, without keeping the process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    Deno.unrefTimer(timer);
  });
}
