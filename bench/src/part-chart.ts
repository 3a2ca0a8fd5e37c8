import { escapeXml, formatNumber, svgDocument } from "./svg.js";

export type PartBar = { label: string; value: number; unit: string; herald?: boolean };

export type PartChart = {
  title: string;
  subtitle: string;
  bars: PartBar[];
  /** A dashed line at this value (a goal), with its label. */
  target?: { value: number; label: string };
  /** Figures printed under the bars, one per line. */
  lines: string[];
};

const WIDTH = 820;
const LABEL_W = 280;
const PLOT_W = WIDTH - LABEL_W - 140;

const text = (x: number, y: number, content: string, attrs = "") =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;

/** A horizontal bar chart (linear scale, an optional goal marked) with the part's figures below it. */
export function renderPartChart(chart: PartChart): string {
  const max = Math.max(chart.target?.value ?? 0, ...chart.bars.map((b) => b.value), 1) * 1.1;
  const x = (v: number) => (Math.max(0, v) / max) * PLOT_W;
  const parts = [
    text(20, 30, chart.title, 'font-size="18" font-weight="bold"'),
    text(20, 50, chart.subtitle, 'fill="#555"'),
  ];
  let y = 75;
  for (const bar of chart.bars) {
    const w = Math.max(1, x(bar.value));
    parts.push(text(LABEL_W - 8, y + 15, bar.label, 'text-anchor="end"'));
    const fill = bar.herald === false ? "#8aa4c8" : "#d9822b";
    parts.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="22" fill="${fill}"/>`);
    parts.push(text(LABEL_W + w + 6, y + 15, `${formatNumber(bar.value)} ${bar.unit}`));
    y += 30;
  }
  if (chart.target) {
    const at = LABEL_W + x(chart.target.value);
    parts.push(
      `<line x1="${at.toFixed(1)}" y1="68" x2="${at.toFixed(1)}" y2="${y}" stroke="#333" stroke-dasharray="5,3"/>`,
      text(at + 4, 66, chart.target.label, 'font-size="11"'),
    );
  }
  y += 10;
  for (const line of chart.lines) {
    y += 18;
    parts.push(text(20, y, line, 'font-size="12" fill="#333"'));
  }
  return svgDocument(WIDTH, Math.ceil(y + 20), parts);
}
