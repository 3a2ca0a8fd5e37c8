/** A bar of the throughput panel. */
export type ThroughputBar = { label: string; value: number; note?: string; highlight?: boolean };
/** A group of the latency panel (milliseconds). */
export type LatencyGroup = { label: string; p50: number; p90: number; p99: number };

export type ChartInput = {
  title: string;
  subtitle: string;
  throughput: ThroughputBar[];
  /** A vertical marker on the throughput panel (e.g. half the ceiling). */
  throughputTarget?: { label: string; value: number };
  latency: LatencyGroup[];
  latencyTargetMs?: number;
  latencyTitle: string;
  /** Small lines under the charts. */
  notes?: string[];
};

const WIDTH = 920;
const LABEL_W = 230;
const PLOT_W = WIDTH - LABEL_W - 130;
const BAR_H = 22;
const GAP = 8;
const COLORS = {
  bar: "#8aa4c8",
  highlight: "#d9822b",
  p50: "#9cc5a1",
  p90: "#5b9bd5",
  p99: "#c0504d",
  target: "#333",
};

/** Escapes text for SVG content and attribute values. */
/** A whole SVG document of `width` × `height` on a white background, holding `parts`. */
export function svgDocument(width: number, height: number, parts: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}

/** Human figure: 1234567 → "1.23M", 45200 → "45.2k", 6000 → "6k", 0.84 → "0.84". */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (abs >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`;
  if (abs >= 100) return value.toFixed(0);
  return `${Number(value.toPrecision(3))}`;
}

/** A log10 axis over the decades that hold `values`: maps a value to x in [0, width]. */
export function logAxis(values: number[], width: number): { x: (v: number) => number; ticks: number[] } {
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(positive.length > 0 ? Math.min(...positive) : 1));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...positive, lo * 10)));
  const span = Math.log10(hi) - Math.log10(lo);
  const ticks: number[] = [];
  for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(Number(t.toPrecision(1)));
  return {
    x: (v) =>
      v > 0 && Number.isFinite(v) ? ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * width : 0,
    ticks,
  };
}

const text = (x: number, y: number, content: string, attrs = "") =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;

function axis(
  x: (v: number) => number,
  ticks: number[],
  top: number,
  bottom: number,
  unit: string,
): string[] {
  return ticks.flatMap((t) => {
    const px = LABEL_W + x(t);
    return [
      `<line x1="${px.toFixed(1)}" y1="${top}" x2="${px.toFixed(1)}" y2="${bottom}" stroke="#ddd"/>`,
      text(px, bottom + 14, `${formatNumber(t)}${unit}`, 'text-anchor="middle" fill="#666"'),
    ];
  });
}

/**
 * The benchmark chart: horizontal throughput bars and grouped p50/p90/p99 latency bars, both on log axes (the
 * systems differ by orders of magnitude).
 *
 * @example
 * writeFileSync("latest.svg", renderChart({ title: "Herald", subtitle: "", throughput: [], latency: [], latencyTitle: "" }));
 */
export function renderChart(input: ChartInput): string {
  const parts: string[] = [];
  let y = 30;
  parts.push(text(20, y, input.title, 'font-size="18" font-weight="bold"'));
  y += 20;
  parts.push(text(20, y, input.subtitle, 'fill="#555"'));
  y += 30;

  parts.push(text(20, y, "Throughput, messages per second (log scale)", 'font-weight="bold"'));
  y += 12;
  const tValues = [...input.throughput.map((b) => b.value), input.throughputTarget?.value ?? 0];
  const tAxis = logAxis(tValues, PLOT_W);
  const tTop = y;
  const bars: string[] = [];
  for (const bar of input.throughput) {
    const w = Math.max(1, tAxis.x(bar.value));
    const fill = bar.highlight ? COLORS.highlight : COLORS.bar;
    bars.push(text(LABEL_W - 8, y + BAR_H * 0.7, bar.label, 'text-anchor="end"'));
    bars.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${fill}"/>`);
    bars.push(
      text(LABEL_W + w + 6, y + BAR_H * 0.7, `${formatNumber(bar.value)}${bar.note ? `  ${bar.note}` : ""}`),
    );
    y += BAR_H + GAP;
  }
  // Grid first, bars on top.
  parts.push(...axis(tAxis.x, tAxis.ticks, tTop - 4, y, ""), ...bars);
  if (input.throughputTarget) {
    const px = LABEL_W + tAxis.x(input.throughputTarget.value);
    parts.push(
      `<line x1="${px.toFixed(1)}" y1="${tTop - 4}" x2="${px.toFixed(1)}" y2="${y}" stroke="${COLORS.target}" stroke-dasharray="5,3"/>`,
    );
    parts.push(text(px + 4, tTop + 2 - 8, input.throughputTarget.label, 'font-size="11"'));
  }
  y += 50;

  parts.push(text(20, y, input.latencyTitle, 'font-weight="bold"'));
  y += 12;
  const lValues = input.latency.flatMap((g) => [g.p50, g.p90, g.p99]).concat(input.latencyTargetMs ?? []);
  const lAxis = logAxis(lValues, PLOT_W);
  const lTop = y;
  const rows: string[] = [];
  const sub = 13;
  for (const group of input.latency) {
    rows.push(text(LABEL_W - 8, y + sub * 1.8, group.label, 'text-anchor="end"'));
    for (const key of ["p50", "p90", "p99"] as const) {
      const w = Math.max(1, lAxis.x(group[key]));
      rows.push(
        `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${sub - 2}" fill="${COLORS[key]}"/>`,
      );
      rows.push(
        text(LABEL_W + w + 6, y + sub - 3, `${key} ${formatNumber(group[key])} ms`, 'font-size="11"'),
      );
      y += sub;
    }
    y += GAP * 2;
  }
  parts.push(...axis(lAxis.x, lAxis.ticks, lTop - 4, y, " ms"), ...rows);
  if (input.latencyTargetMs !== undefined) {
    const px = LABEL_W + lAxis.x(input.latencyTargetMs);
    parts.push(
      `<line x1="${px.toFixed(1)}" y1="${lTop - 4}" x2="${px.toFixed(1)}" y2="${y}" stroke="${COLORS.target}" stroke-dasharray="5,3"/>`,
    );
    parts.push(
      text(px + 4, lTop - 6, `target p99 ≤ ${formatNumber(input.latencyTargetMs)} ms`, 'font-size="11"'),
    );
  }
  y += 30;
  for (const note of input.notes ?? []) {
    parts.push(text(20, y, note, 'font-size="11" fill="#555"'));
    y += 16;
  }
  const height = Math.ceil(y);
  return svgDocument(WIDTH, height, parts);
}
