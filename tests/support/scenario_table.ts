/**
 * The fault and hostile-input suites print what happened in each scenario:
 * outcome, figures, and the bytes of cores lost (which must be 0).
 */

/** One scenario's result. */
export interface ScenarioRow {
  scenario: string;
  outcome: string;
  figures: string;
  /** Bytes of cores written by the scenario that were neither stored nor reported: must be 0. */
  bytesLost: number;
  /** Bytes of cores a guard deleted on purpose, each reported by log, metric and message. */
  bytesDropped?: number;
}

/** Collects rows and prints them as a table. */
export class ScenarioTable {
  #title: string;
  #rows: ScenarioRow[] = [];

  constructor(title: string) {
    this.#title = title;
  }

  /** Adds a row. */
  add(row: ScenarioRow): void {
    this.#rows.push(row);
  }

  /** Prints the table (to stdout, shown by `deno test`). */
  print(): void {
    const header = ["scenario", "outcome", "figures", "bytes lost", "bytes dropped (reported)"];
    const cells = this.#rows.map((
      r,
    ) => [r.scenario, r.outcome, r.figures, String(r.bytesLost), String(r.bytesDropped ?? 0)]);
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
