/**
 * The far end of the watcher's `webhook` NoticeChannel: a local HTTP
 * server that notes when each crash's message arrived. "Notification
 * delivered" is measured here, at the receiver, not from the watcher's log.
 *
 * @module
 */

/** One message as received. */
export interface Delivery {
  /** `Date.now()` when the request arrived. */
  at: number;
  corePath: string;
  rawBytes: number;
  storedBytes: number;
  sha256: string;
}

/** A running receiver. */
export interface NotificationReceiver {
  url: string;
  /** Every delivery so far, in arrival order. */
  deliveries: Delivery[];
  /** Resolves with the delivery for `corePath`, or rejects after `timeoutMs`. */
  waitFor(corePath: string, timeoutMs: number): Promise<Delivery>;
  /** Resolves once `count` deliveries have arrived in total, or rejects after `timeoutMs`. */
  waitForCount(count: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a receiver on a free loopback port. */
export function startNotificationReceiver(): NotificationReceiver {
  const deliveries: Delivery[] = [];
  const byPath = new Map<string, Delivery>();
  const waiters = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const at = Date.now();
    const body = await request.json();
    const corefile = body?.record?.corefile ?? {};
    const delivery: Delivery = {
      at,
      corePath: String(corefile.path ?? ""),
      rawBytes: Number(corefile.rawBytes ?? 0),
      storedBytes: Number(corefile.storedBytes ?? 0),
      sha256: String(corefile.sha256 ?? ""),
    };
    deliveries.push(delivery);
    byPath.set(delivery.corePath, delivery);
    for (const wake of waiters) wake();
    return new Response("ok");
  });

  function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = check();
      if (done !== undefined) return resolve(done);
      const wake = () => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(value);
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        reject(new Error(`no notification for ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(wake);
    });
  }

  return {
    url: `http://127.0.0.1:${server.addr.port}/coredog`,
    deliveries,
    waitFor: (corePath, timeoutMs) => until(() => byPath.get(corePath), timeoutMs, corePath),
    waitForCount: (count, timeoutMs) =>
      until(() => deliveries.length >= count ? true : undefined, timeoutMs, `${count} cores`).then(() => {}),
    stop: () => server.shutdown(),
  };
}
