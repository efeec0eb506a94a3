/**
 * The notification side of the watcher: channels built from the
 * configuration (`channels.ts`), and the dispatcher that filters, folds,
 * queues and drains their messages (`dispatcher.ts`).
 *
 * @module
 */

export { type Channel, createChannels } from "./channels.ts";
export { createDispatcher, type Dispatcher, type DispatcherMetrics } from "./dispatcher.ts";
