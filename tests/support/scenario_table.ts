/**
 * The fault and hostile-input suites print what happened in each scenario:
 * outcome, figures, and the bytes of cores lost, which must be 0. The loss
 * is measured: every core a scenario wrote is looked for, byte for byte,
 * among the decompressed objects of the store.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import zlib from "node:zlib";
import { listTree } from "./harness.ts";
import { getBytes, listKeys, testS3Client } from "./s3_client.ts";

/** A core as its size and the SHA-256 of its bytes. */
export interface CoreDigest {
  size: number;
  sha256: string;
}

/** The digest of `bytes`. */
export function digestOf(bytes: Uint8Array): CoreDigest {
  return { size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** The digest of `size` zero bytes (what a sparse file without data reads as), computed in 1 MiB steps. */
export function digestOfZeros(size: number): CoreDigest {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(1024 * 1024);
  for (let left = size; left > 0; left -= chunk.length) {
    hash.update(left >= chunk.length ? chunk : chunk.subarray(0, left));
  }
  return { size, sha256: hash.digest("hex") };
}

/** The decompressed digests of every core object in the test S3 server's bucket. */
export async function coresInBucket(endpoint: string): Promise<CoreDigest[]> {
  const client = testS3Client(endpoint);
  const digests: CoreDigest[] = [];
  for (const key of (await listKeys(client)).filter(isCoreObject)) {
    digests.push(await digestStream([await getBytes(client, key)], key));
  }
  return digests;
}

/** The decompressed digests of every core object below a directory store, streamed (cores may be GiBs). */
export async function coresInDirectory(dir: string): Promise<CoreDigest[]> {
  const digests: CoreDigest[] = [];
  for (const file of (await listTree(dir)).filter(isCoreObject)) {
    const stream = fs.createReadStream(`${dir}/${file}`);
    digests.push(await digestStream(stream, file));
  }
  return digests;
}

function isCoreObject(key: string): boolean {
  return /\.core(\.zst|\.gz)?$/.test(key);
}

async function digestStream(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  name: string,
): Promise<CoreDigest> {
  const hash = createHash("sha256");
  let size = 0;
  const decompress = name.endsWith(".zst")
    ? zlib.createZstdDecompress()
    : name.endsWith(".gz")
    ? zlib.createGunzip()
    : undefined;
  const feed = async () => {
    for await (const chunk of input) {
      if (!decompress!.write(chunk)) await new Promise((resolve) => decompress!.once("drain", resolve));
    }
    decompress!.end();
  };
  if (decompress) {
    const fed = feed();
    for await (const chunk of decompress) {
      hash.update(chunk);
      size += chunk.length;
    }
    await fed;
  } else {
    for await (const chunk of input) {
      hash.update(chunk);
      size += chunk.length;
    }
  }
  return { size, sha256: hash.digest("hex") };
}

/** What a scenario wrote, what the store holds, and what is missing. */
export interface Loss {
  /** Cores written by the scenario. */
  written: number;
  /** Of those, cores found in the store, byte for byte. */
  stored: number;
  /** Of those, cores a guard deleted on purpose (each reported by log, metric and message). */
  dropped: number;
  /** Bytes of written cores neither stored nor dropped on purpose: must be 0. */
  bytesLost: number;
  /** Bytes of the cores dropped on purpose. */
  bytesDropped: number;
}

/**
 * Compares what was written with what was stored. `dropped` are cores the
 * scenario checked were deleted on purpose and reported; they are not lost.
 */
export function measureLoss(written: CoreDigest[], stored: CoreDigest[], dropped: CoreDigest[] = []): Loss {
  const storedKeys = new Set(stored.map((d) => `${d.sha256}:${d.size}`));
  const droppedKeys = new Set(dropped.map((d) => `${d.sha256}:${d.size}`));
  const loss: Loss = { written: written.length, stored: 0, dropped: 0, bytesLost: 0, bytesDropped: 0 };
  for (const core of written) {
    const key = `${core.sha256}:${core.size}`;
    if (storedKeys.has(key)) loss.stored++;
    else if (droppedKeys.has(key)) {
      loss.dropped++;
      loss.bytesDropped += core.size;
    } else loss.bytesLost += core.size;
  }
  return loss;
}

/** One scenario's result. */
export interface ScenarioRow {
  scenario: string;
  outcome: string;
  figures: string;
  /** Measured with {@linkcode measureLoss}; absent where the scenario writes no cores (the webhook). */
  loss?: Loss;
}

/** Collects rows and prints them as a table. */
export class ScenarioTable {
  #title: string;
  #rows: ScenarioRow[] = [];

  constructor(title: string) {
    this.#title = title;
  }

  /** Adds a row; fails the scenario when any core it wrote was lost. */
  add(row: ScenarioRow): void {
    this.#rows.push(row);
    if (row.loss) {
      assert.equal(
        row.loss.bytesLost,
        0,
        `${row.scenario}: ${row.loss.bytesLost} bytes of cores lost (${row.loss.stored} of ${row.loss.written} stored, ${row.loss.dropped} dropped on purpose)`,
      );
    }
  }

  /**
   * Prints the table (to stdout, shown by `deno test`) and asserts that
   * every scenario in `expected` added its row with nothing lost: a
   * scenario that stopped before its row is missing here even when its
   * own failure was reported elsewhere.
   */
  finish(expected: string[]): void {
    this.#print();
    assert.deepEqual(this.#rows.map((r) => r.scenario).sort(), [...expected].sort(), "every scenario reported");
    for (const row of this.#rows) {
      if (row.loss) assert.equal(row.loss.bytesLost, 0, row.scenario);
    }
  }

  #print(): void {
    const header = ["scenario", "outcome", "figures", "cores stored/written", "bytes lost", "bytes dropped (reported)"];
    const cells = this.#rows.map((r) => [
      r.scenario,
      r.outcome,
      r.figures,
      r.loss ? `${r.loss.stored}/${r.loss.written}` : "no cores",
      r.loss ? String(r.loss.bytesLost) : "-",
      r.loss ? String(r.loss.bytesDropped) : "-",
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i])).join(" | ")} |`;
    console.log(
      [
        `\n${this.#title}`,
        line(header),
        line(widths.map((w) => "-".repeat(w))),
        ...cells.map(line),
      ].join("\n"),
    );
  }
}
