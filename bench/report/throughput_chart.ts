/**
 * The SVG chart of pipeline throughput by core size: CoreDog from close to
 * verified upload, CoreDog's upload alone (from its capture log line, so
 * without detection and settle), and the standard-tools baseline.
 *
 * @module
 */

import type { PipelineCaseResult } from "../pipeline_bench.ts";

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 40, right: 20, bottom: 104, left: 64 };
const SERIES = [
  { label: "CoreDog, close to verified upload", color: "#2563eb", value: (c: PipelineCaseResult) => c.coredogMiBps },
  {
    label: "CoreDog, upload only (capture to verified)",
    color: "#93c5fd",
    value: (c: PipelineCaseResult) => c.coredogUploadMiBps,
  },
  {
    label: "baseline: zstd -1 -T0 + curl PUT + HEAD",
    color: "#f97316",
    value: (c: PipelineCaseResult) => c.baselineMiBps,
  },
];

/** The chart as an SVG document. */
export function throughputChartSvg(cases: PipelineCaseResult[], options: { title: string }): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = niceMax(Math.max(1, ...cases.flatMap((c) => SERIES.map((s) => s.value(c)))));
  const y = (v: number) => MARGIN.top + plotH - (v / max) * plotH;
  const group = plotW / Math.max(1, cases.length);
  const bar = Math.min(48, (group * 0.8) / SERIES.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${
      escape(options.title)
    }</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#374151">${Math.round(v)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#374151">` +
      `MiB/s of raw core</text>`,
  );
  cases.forEach((c, i) => {
    const x0 = MARGIN.left + group * i + (group - bar * SERIES.length) / 2;
    SERIES.forEach((s, j) => {
      const v = s.value(c);
      const x = x0 + bar * j;
      parts.push(
        `<rect x="${x}" y="${y(v)}" width="${bar - 2}" height="${MARGIN.top + plotH - y(v)}" fill="${s.color}">` +
          `<title>${escape(`${c.label}: ${s.label}: ${v.toFixed(1)} MiB/s`)}</title></rect>`,
        `<text x="${x + (bar - 2) / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="10">${Math.round(v)}</text>`,
      );
    });
    const ratioText = `${c.label} (ratio ${c.ratio.toFixed(2)})`;
    parts.push(
      `<text x="${MARGIN.left + group * i + group / 2}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">` +
        `${escape(ratioText)}</text>`,
    );
  });
  SERIES.forEach((s, j) => {
    // One legend line per series: the labels are too long to share a line.
    const x = MARGIN.left;
    const ly = HEIGHT - 58 + j * 20;
    parts.push(
      `<rect x="${x}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${x + 16}" y="${ly}" font-size="11">${escape(s.label)}</text>`,
    );
  });
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#374151"/>`,
    `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + plotH}" y2="${
      MARGIN.top + plotH
    }" stroke="#374151"/>`,
    "</svg>",
    "",
  );
  return parts.join("\n");
}

function niceMax(value: number): number {
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
