/**
 * Keeps the serving certificate in step with its files.
 *
 * Kubernetes updates a Secret volume by writing a new directory and
 * swapping the `..data` symlink, so the files' own mtimes and inotify
 * watches on them say little. The reloader rereads both files on a timer
 * and applies the pair when its contents change. The certificate is read
 * again after the key: a swap between the two reads would otherwise pair
 * the old certificate with the new key and report a rotation that is fine
 * as broken. A pair that fails is not retried until the files change.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type { CertificatePair } from "./tls_server.ts";

/** Where the certificate and key live (e.g. `tls.crt` and `tls.key` of a Secret volume). */
export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

/** Options of {@linkcode watchCertificateFiles}. */
export interface CertificateReloaderOptions {
  /** Puts a pair in service; throws when it is unusable. */
  apply(pair: CertificatePair): void | Promise<void>;
  logger: Logger;
  /** Time between looks at the files, ms; 5000 by default. */
  intervalMs?: number;
  /** Reads one file as text; `Deno.readTextFile` unless a test swaps the Secret between two reads. */
  readFile?: (path: string) => Promise<string>;
}

/** Reads of a pair that saw a swap between them before the look gives up until the next interval. */
const TORN_READ_ATTEMPTS = 5;

/**
 * Reads the certificate, the key, then the certificate again, so that a
 * pair is only returned when no swap happened between the reads that
 * matter. Returns undefined when every attempt saw a swap; throws the last
 * read error when every attempt failed.
 */
async function readConsistentPair(
  files: CertificateFiles,
  readFile: (path: string) => Promise<string>,
): Promise<CertificatePair | undefined> {
  for (let attempt = 1; attempt <= TORN_READ_ATTEMPTS; attempt++) {
    try {
      const certPem = await readFile(files.certFile);
      const keyPem = await readFile(files.keyFile);
      if (await readFile(files.certFile) === certPem) return { certPem, keyPem };
    } catch (error) {
      // The kubelet removes the old data directory right after the swap, so
      // a read that started there can fail once; only a lasting failure counts.
      if (attempt === TORN_READ_ATTEMPTS) throw error;
    }
  }
  return undefined;
}

/** A running reloader. */
export interface CertificateReloader {
  /** Stops looking; waits for a look in progress. */
  stop(): Promise<void>;
}

/** Starts looking at `files` now and every `intervalMs`. */
export function watchCertificateFiles(
  files: CertificateFiles,
  options: CertificateReloaderOptions,
): CertificateReloader {
  const { logger } = options;
  const interval = options.intervalMs ?? 5000;
  let applied: string | undefined;
  let failed: string | undefined;
  let lastReadError: string | undefined;
  let running: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  async function look(): Promise<void> {
    let pair: CertificatePair | undefined;
    try {
      pair = await readConsistentPair(files, options.readFile ?? Deno.readTextFile);
    } catch (error) {
      const message = (error as Error).message;
      if (message !== lastReadError) {
        lastReadError = message;
        logger.warn(
          applied
            ? "cannot read the certificate files; serving the loaded certificate"
            : "waiting for the certificate files",
          { cert: files.certFile, key: files.keyFile, error: message },
        );
      }
      return;
    }
    lastReadError = undefined;
    if (!pair) {
      logger.debug("the certificate files kept changing while read; looking again later", { cert: files.certFile });
      return;
    }
    const fingerprint = `${pair.certPem}\u0000${pair.keyPem}`;
    if (fingerprint === applied || fingerprint === failed) return;
    try {
      await options.apply(pair);
      applied = fingerprint;
      failed = undefined;
    } catch (error) {
      failed = fingerprint;
      logger.error(
        applied ? "cannot load the new certificate; serving the previous one" : "cannot serve with the certificate",
        { cert: files.certFile, key: files.keyFile, error: (error as Error).message },
      );
    }
  }

  function check(): Promise<void> {
    running = running.then(look).catch((error) => {
      logger.error("certificate check failed", { error: (error as Error).message });
    });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => void check().finally(schedule), interval);
  }

  void check().finally(schedule);

  return {
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
