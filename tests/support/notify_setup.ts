/**
 * A dispatcher over channels built from YAML, exactly as the watcher
 * builds them, with captured logs and counters.
 */

import { type CoredogConfig, parseConfig } from "../../src/core/config.ts";
import { createLogger } from "../../src/log.ts";
import { Registry } from "../../src/metrics.ts";
import {
  type Channel,
  createChannels,
  createDispatcher,
  type Dispatcher,
  type DispatcherMetrics,
} from "../../src/notify/mod.ts";
import { runSimulated, type VirtualClock } from "./virtual_clock.ts";

/** A dispatcher under test. */
export interface TestDispatcher {
  config: CoredogConfig;
  dispatcher: Dispatcher;
  logs: string[];
  metrics: DispatcherMetrics;
  /** Total of a counter over every channel. */
  count(name: keyof DispatcherMetrics): number;
  /** Requests under way. */
  inFlight(): number;
  /** Runs simulated time until `done()`, never jumping while a request is under way. */
  simulate(done: () => boolean): Promise<void>;
}

/**
 * Parses `yaml` (a storage section is added) and starts a dispatcher over
 * its `NoticeChannel` entries on `clock`, with jitter fixed at 0.5.
 */
export function testDispatcher(yaml: string, clock: VirtualClock): TestDispatcher {
  const config = parseConfig(`StorageConfig:\n  S3Bucket: cores\n${yaml}`);
  const logs: string[] = [];
  const registry = new Registry();
  const metrics: DispatcherMetrics = {
    sent: registry.counter("sent_total", "sent"),
    failed: registry.counter("failed_total", "failed"),
    filtered: registry.counter("filtered_total", "filtered"),
    folded: registry.counter("folded_total", "folded"),
    retried: registry.counter("retried_total", "retried"),
    digests: registry.counter("digests_total", "digests"),
  };
  let inFlight = 0;
  const channels: Channel[] = createChannels(config.channels).map((channel) => ({
    ...channel,
    notifier: {
      name: channel.notifier.name,
      async attempt(notification, context) {
        inFlight++;
        try {
          return await channel.notifier.attempt(notification, context);
        } finally {
          inFlight--;
        }
      },
    },
  }));
  const dispatcher = createDispatcher(channels, {
    template: config.messageTemplate,
    logger: createLogger({ level: "debug", write: (line) => logs.push(line) }),
    metrics,
    clock,
    random: () => 0.5,
  });
  function count(name: keyof DispatcherMetrics): number {
    const text = registry.render();
    return [...text.matchAll(new RegExp(`^${name}_total\\{[^}]*\\} (\\d+)$`, "gm"))]
      .reduce((sum, m) => sum + Number(m[1]), 0);
  }
  return {
    config,
    dispatcher,
    logs,
    metrics,
    count,
    inFlight: () => inFlight,
    simulate: (done) => runSimulated(clock, done, { busy: () => inFlight > 0 }),
  };
}

/** The YAML of one channel entry plus optional top-level lines. */
export function channelYaml(entry: Record<string, unknown>, top: string[] = []): string {
  const lines = [
    "NoticeChannel:",
    ...Object.entries(entry).map(([k, v], i) => `${i === 0 ? "  - " : "    "}${k}: ${JSON.stringify(v)}`),
  ];
  return [...lines, ...top, ""].join("\n");
}
