/**
 * A small Prometheus registry: counters, gauges and histograms rendered in
 * the text exposition format for `/metrics`.
 *
 * @module
 */

type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  value: number;
}

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

/** A monotonically increasing count. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
}

/** A value that goes up and down. */
export interface Gauge {
  set(value: number, labels?: Labels): void;
  get(labels?: Labels): number;
}

/** A distribution of observed values. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(): string[];
}

/** Holds the metrics of one process and renders them. */
export class Registry {
  #metrics: Metric[] = [];

  /** Registers a counter; `name` should end in `_total`. */
  counter(name: string, help: string): Counter {
    const series = new Map<string, Series>();
    this.#metrics.push({
      name,
      help,
      type: "counter",
      render: () => [...series.values()].map((s) => `${name}${formatLabels(s.labels)} ${s.value}`),
    });
    return {
      inc(labels = {}, by = 1) {
        const key = labelKey(labels);
        const s = series.get(key) ?? { labels, value: 0 };
        s.value += by;
        series.set(key, s);
      },
      get: (labels = {}) => series.get(labelKey(labels))?.value ?? 0,
    };
  }

  /** Registers a gauge. */
  gauge(name: string, help: string): Gauge {
    const series = new Map<string, Series>();
    this.#metrics.push({
      name,
      help,
      type: "gauge",
      render: () => [...series.values()].map((s) => `${name}${formatLabels(s.labels)} ${s.value}`),
    });
    return {
      set(value, labels = {}) {
        series.set(labelKey(labels), { labels, value });
      },
      get: (labels = {}) => series.get(labelKey(labels))?.value ?? 0,
    };
  }

  /** Registers a histogram with the given upper bounds. */
  histogram(name: string, help: string, buckets: number[]): Histogram {
    const series = new Map<string, HistogramSeries>();
    this.#metrics.push({
      name,
      help,
      type: "histogram",
      render: () =>
        [...series.values()].flatMap((s) => [
          ...buckets.map((b, i) => `${name}_bucket${formatLabels({ ...s.labels, le: String(b) })} ${s.counts[i]}`),
          `${name}_bucket${formatLabels({ ...s.labels, le: "+Inf" })} ${s.count}`,
          `${name}_sum${formatLabels(s.labels)} ${s.sum}`,
          `${name}_count${formatLabels(s.labels)} ${s.count}`,
        ]),
    });
    return {
      observe(value, labels = {}) {
        const key = labelKey(labels);
        const s = series.get(key) ?? { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
        buckets.forEach((b, i) => {
          if (value <= b) s.counts[i]++;
        });
        s.sum += value;
        s.count++;
        series.set(key, s);
      },
    };
  }

  /** The text exposition format. */
  render(): string {
    const lines: string[] = [];
    for (const metric of this.#metrics) {
      lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`, ...metric.render());
    }
    return lines.join("\n") + "\n";
  }
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort());
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  const body = entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return `{${body.join(",")}}`;
}
