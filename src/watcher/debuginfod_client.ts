/**
 * Function names for a core's frames from debuginfod servers: each module's
 * build-id is asked for at `<url>/buildid/<id>/debuginfo`, then
 * `<url>/buildid/<id>/executable`, server after server in the order of the
 * configured list (the `DEBUGINFOD_URLS` convention: space-separated), and
 * the first file with function symbols names the frames
 * (`core/elf_symbols.ts`).
 *
 * Each request is bounded in time and size, and the answer for a build-id
 * (symbols, or none anywhere) is kept for the watcher's lifetime, so a
 * crash loop asks once. A server that is down or slow costs at most the
 * time limit per file; the core is stored and notified either way, with
 * `module+0xoffset` frames.
 *
 * @module
 */

import { type CrashSite, withFunctionNames } from "../core/crash_signature.ts";
import { functionAt, parseSymbols, type SymbolTable } from "../core/elf_symbols.ts";
import type { Logger } from "../log.ts";

/** Time allowed for one file (headers and body), ms. */
const DEBUGINFOD_TIMEOUT_MS = 15_000;

/** Largest file downloaded, bytes; a larger one is skipped. */
const DEBUGINFOD_MAX_BYTES = 256 * 1024 * 1024;

/** Build-ids whose answer is kept at most (oldest forgotten first). */
const MAX_CACHED = 512;

const BUILD_ID = /^[0-9a-f]{2,128}$/;

/** Options of {@linkcode DebuginfodClient}. */
export interface DebuginfodOptions {
  logger: Logger;
  /** Per file, ms; {@linkcode DEBUGINFOD_TIMEOUT_MS} by default. */
  timeoutMs?: number;
  /** Per file, bytes; {@linkcode DEBUGINFOD_MAX_BYTES} by default. */
  maxBytes?: number;
}

/** Asks debuginfod servers for symbols by build-id and names frames with them. */
export class DebuginfodClient {
  #urls: string[];
  #options: DebuginfodOptions;
  #cache = new Map<string, Promise<SymbolTable | undefined>>();

  /** A client for the servers of `urls` (`Watcher.DebuginfodURLs`), in order. */
  constructor(urls: string[], options: DebuginfodOptions) {
    this.#urls = urls;
    this.#options = options;
  }

  /** `site` with function names on the frames whose module's symbols a server has. */
  async nameFrames(site: CrashSite): Promise<CrashSite> {
    const wanted = new Set(
      site.modules.filter((m) => m.buildId && site.frames.some((f) => f.module === m.name)).map((m) => m.buildId!),
    );
    const tables = new Map<string, SymbolTable>();
    await Promise.all([...wanted].map(async (buildId) => {
      const table = await this.symbols(buildId);
      if (table) tables.set(buildId, table);
    }));
    if (tables.size === 0) return site;
    return withFunctionNames(site, (buildId, offset) => {
      const table = tables.get(buildId);
      return table ? functionAt(table, offset) : undefined;
    });
  }

  /** The function symbols of the file with `buildId`, or undefined when no server has them. */
  symbols(buildId: string): Promise<SymbolTable | undefined> {
    let answer = this.#cache.get(buildId);
    if (!answer) {
      answer = this.#fetchSymbols(buildId);
      this.#cache.set(buildId, answer);
      if (this.#cache.size > MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
    }
    return answer;
  }

  async #fetchSymbols(buildId: string): Promise<SymbolTable | undefined> {
    if (!BUILD_ID.test(buildId)) return undefined;
    const { logger } = this.#options;
    for (const url of this.#urls) {
      for (const kind of ["debuginfo", "executable"]) {
        const where = `${url}/buildid/${buildId}/${kind}`;
        try {
          const bytes = await this.#download(where);
          if (!bytes) continue;
          const parsed = parseSymbols(bytes);
          if (parsed.ok) {
            logger.info("debuginfod: symbols found", {
              build_id: buildId,
              url: where,
              functions: parsed.table.functions.length,
            });
            return parsed.table;
          }
          logger.debug("debuginfod: no usable symbols", { url: where, reason: parsed.reason });
        } catch (error) {
          logger.warn("debuginfod: request failed; frames keep module+offset", {
            url: where,
            error: (error as Error).message,
          });
        }
      }
    }
    return undefined;
  }

  /** The body of `url`, undefined on 404 (not there); throws on other failures and past the limits. */
  async #download(url: string): Promise<Uint8Array | undefined> {
    const timeoutMs = this.#options.timeoutMs ?? DEBUGINFOD_TIMEOUT_MS;
    const maxBytes = this.#options.maxBytes ?? DEBUGINFOD_MAX_BYTES;
    const signal = AbortSignal.timeout(timeoutMs);
    const response = await fetch(url, { signal });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get("content-length") ?? NaN);
    if (declared > maxBytes) {
      await response.body.cancel();
      throw new Error(`${declared} bytes, more than the ${maxBytes} bytes allowed`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.length;
        if (total > maxBytes) throw new Error(`more than the ${maxBytes} bytes allowed`);
        chunks.push(value);
      }
    } catch (error) {
      await reader.cancel().catch(() => {});
      if (signal.aborted) throw new Error(`no complete answer within ${timeoutMs} ms`);
      throw error;
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return bytes;
  }
}
