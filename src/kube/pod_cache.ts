/**
 * The pods of this node, kept current by a list and watch
 * (`fieldSelector=spec.nodeName=<node>`, client-node's `ListWatch`), so
 * that a core is attributed fully even when its pod is gone by the time the
 * core is processed: a Job pod removed at once by `ttlSecondsAfterFinished:
 * 0`, a pod replaced in a rollout, a pod evicted after its crash. Deleted
 * pods stay as tombstones for a while; a pod the cache does not know is
 * asked for with a GET.
 *
 * The watch is resumed from its last resourceVersion when the server closes
 * it, relisted on 410 Gone (both by `ListWatch`), and started again with
 * backoff after an error (API down, 403). A lookup never waits longer than
 * its timeout: before the first list it waits for it at most that long,
 * and when listing failed it goes straight to the GET.
 *
 * @module
 */

import type { V1Pod } from "@kubernetes/client-node";
import type { PodObject } from "../core/pod_facts.ts";
import type { Logger } from "../log.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./api_objects.ts";
import type { KubeClient } from "./client.ts";

/** How long a deleted pod is remembered by default, ms (15 minutes). */
const DEFAULT_TOMBSTONE_MS = 15 * 60_000;

/** Backoff of restarts after the list or watch failed, ms. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;

/** Options of {@linkcode PodCache}. */
export interface PodCacheOptions {
  /** This node's name: only its pods are listed and watched. */
  nodeName: string;
  logger: Logger;
  /** How long a deleted pod is kept, ms; {@linkcode DEFAULT_TOMBSTONE_MS} by default. */
  tombstoneMs?: number;
  /** The clock; `Date.now` by default. */
  now?(): number;
  /** Called for each lookup with where its answer came from (for a metric). */
  onLookup?(source: PodSource): void;
}

/** Where a looked-up pod came from. */
export type PodSource = "cache" | "tombstone" | "api";

interface Tombstone {
  pod: PodObject;
  until: number;
}

/** The node's pods, live and recently deleted, with a GET for the rest. */
export class PodCache {
  #client: KubeClient;
  #options: PodCacheOptions;
  #tombstoneMs: number;
  /** The longest a lookup waits, ms: the Kubernetes client's default request timeout. */
  #timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
  #now: () => number;
  #informer;
  #tombstones = new Map<string, Tombstone>();
  #synced = false;
  #listFailed = false;
  #stopped = true;
  #restartMs = RESTART_MIN_MS;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #syncWaiters: (() => void)[] = [];
  #reconnectTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(client: KubeClient, options: PodCacheOptions) {
    this.#client = client;
    this.#options = options;
    this.#tombstoneMs = options.tombstoneMs ?? DEFAULT_TOMBSTONE_MS;
    this.#now = options.now ?? Date.now;
    this.#informer = client.podListWatch(`spec.nodeName=${options.nodeName}`, {
      delayFn: (ms) => this.#reconnectDelay(ms),
    });
    this.#informer.on("add", (pod) => this.#tombstones.delete(keyOf(pod)));
    this.#informer.on("delete", (pod) => this.#bury(pod));
    this.#informer.on(
      "connect",
      () => this.#options.logger.debug("pod watch (re)connecting", { node: options.nodeName }),
    );
    this.#informer.on("error", (error) => this.#failed(error));
  }

  /** Starts the list and watch; returns at once (an API that is down is retried in the background). */
  start(): void {
    this.#stopped = false;
    this.#run();
  }

  /** True once a list succeeded. */
  synced(): boolean {
    return this.#synced;
  }

  /**
   * The pod from the cache, its tombstone, or the API; undefined when the
   * API says it does not exist (or it was deleted longer ago than the
   * tombstone time).
   *
   * @throws {Error} when the cache does not know the pod and the GET fails (API down, timeout, 403).
   */
  async getPod(namespace: string, name: string): Promise<PodObject | undefined> {
    return (await this.#lookup(namespace, name)).pod;
  }

  /** Like {@linkcode getPod}, with where the answer came from. */
  async #lookup(namespace: string, name: string): Promise<{ pod?: PodObject; source: PodSource }> {
    const deadline = this.#now() + this.#timeoutMs;
    if (!this.#synced && !this.#listFailed && !this.#stopped) await this.#waitForSync(this.#timeoutMs);
    const key = `${namespace}/${name}`;
    const live = this.#informer.get(name, namespace);
    if (live) {
      this.#options.onLookup?.("cache");
      return { pod: plain(live), source: "cache" };
    }
    const tombstone = this.#tombstones.get(key);
    if (tombstone && tombstone.until > this.#now()) {
      this.#options.onLookup?.("tombstone");
      return { pod: tombstone.pod, source: "tombstone" };
    }
    this.#options.onLookup?.("api");
    const remaining = Math.max(1, deadline - this.#now());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`get pod ${key}: no answer within ${this.#timeoutMs} ms (enrichment timeout)`)),
        remaining,
      );
    });
    try {
      return { pod: await Promise.race([this.#client.getPod(namespace, name), late]), source: "api" };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the watch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    for (const timer of this.#reconnectTimers) clearTimeout(timer);
    this.#reconnectTimers.clear();
    await this.#informer.stop();
    for (const wake of this.#syncWaiters.splice(0)) wake();
  }

  #run(): void {
    this.#informer.start().then(() => {
      if (this.#stopped) return;
      // start() resolves once the list is in and the watch is asked for; a failed list was reported through
      // "error" and left no resourceVersion.
      if (this.#informer.latestResourceVersion()) this.#markSynced();
    }, (error) => this.#failed(error));
  }

  /** client-node's wait before a watch reconnects; never ends once stopped, so that a stopped cache stays stopped. */
  #reconnectDelay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#reconnectTimers.delete(timer);
        if (!this.#stopped) resolve();
      }, ms);
      this.#reconnectTimers.add(timer);
    });
  }

  #markSynced(): void {
    if (!this.#synced) {
      this.#options.logger.info("pod cache synced", {
        node: this.#options.nodeName,
        pods: this.#informer.list().length,
      });
    }
    this.#synced = true;
    this.#listFailed = false;
    this.#restartMs = RESTART_MIN_MS;
    for (const wake of this.#syncWaiters.splice(0)) wake();
  }

  #failed(error: unknown): void {
    if (this.#stopped) return;
    const message = (error as Error)?.message ?? String(error);
    const status = (error as { statusCode?: number })?.statusCode;
    this.#listFailed = !this.#informer.latestResourceVersion();
    this.#options.logger.warn("pod list/watch failed; cores are enriched with a GET until it is back", {
      node: this.#options.nodeName,
      error: status ? `HTTP ${status} ${message}` : message,
      retry_in_ms: this.#restartMs,
    });
    for (const wake of this.#syncWaiters.splice(0)) wake();
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (!this.#stopped) this.#run();
    }, this.#restartMs);
    this.#restartMs = Math.min(this.#restartMs * 2, RESTART_MAX_MS);
  }

  #bury(pod: V1Pod): void {
    const now = this.#now();
    for (const [key, stone] of this.#tombstones) if (stone.until <= now) this.#tombstones.delete(key);
    this.#tombstones.set(keyOf(pod), { pod: plain(pod), until: now + this.#tombstoneMs });
  }

  async #waitForSync(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#syncWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }
}

function keyOf(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

/** The list gives typed objects, the watch plain JSON: the same plain JSON for both. */
function plain(pod: V1Pod): PodObject {
  return JSON.parse(JSON.stringify(pod)) as PodObject;
}
