import type { IdleResult } from "./idle-run.js";
import type { MemoryResult } from "./results.js";
import { escapeXml, formatNumber, svgDocument } from "./svg.js";

/** The target: RSS per idle authenticated connection on one connector. */
export const IDLE_TARGET_BYTES = 6_000;

const SYSTEMS = [
  ["Herald connector (authenticated)", "herald"],
  ["raw ws", "ws"],
  ["Socket.IO (Redis Streams adapter)", "socketio"],
] as const;

const perConn = (part: IdleResult["herald"]) =>
  "skipped" in part ? undefined : (part as MemoryResult).perConnectionBytes;

/** Herald's RSS per idle connection ÷ each baseline's, and whether it meets the target. */
export function idleRatios(idle: IdleResult) {
  const herald = perConn(idle.herald);
  const ratio = (other: number | undefined) =>
    herald === undefined || other === undefined || other <= 0
      ? null
      : Math.round((herald / other) * 100) / 100;
  return {
    heraldVsRawWs: ratio(perConn(idle.ws)),
    heraldVsSocketIo: ratio(perConn(idle.socketio)),
    withinTarget: herald === undefined ? null : herald <= IDLE_TARGET_BYTES,
  };
}

/** Lines for the run's summary. */
export function idleLines(idle: IdleResult | undefined): string[] {
  if (!idle) return [];
  const r = idleRatios(idle);
  const each = SYSTEMS.map(([label, key]) => {
    const part = idle[key];
    return "skipped" in part ? `${label} skipped (${part.skipped})` : `${label} ${part.perConnectionBytes} B`;
  });
  const verdict = r.withinTarget === null ? "n/a" : r.withinTarget ? "MET" : "MISSED";
  return [
    `Idle RSS per connection at ${idle.connections} connections: ${each.join(", ")}`,
    `Idle Herald / raw ws ${r.heraldVsRawWs ?? "-"}, Herald / Socket.IO ${r.heraldVsSocketIo ?? "-"} (target ≤ ${IDLE_TARGET_BYTES} B: ${verdict}; load ${idle.loadAverage.join(" → ")})`,
  ];
}

const WIDTH = 760;
const LABEL_W = 260;
const PLOT_W = WIDTH - LABEL_W - 120;

/** A bar chart of RSS per idle connection (linear scale, the target marked). */
export function renderIdleChart(idle: IdleResult, startedAt: string): string {
  const bars = SYSTEMS.flatMap(([label, key]) => {
    const value = perConn(idle[key]);
    return value === undefined ? [] : [{ label, value, herald: key === "herald" }];
  });
  const max = Math.max(IDLE_TARGET_BYTES, ...bars.map((b) => b.value)) * 1.1;
  const x = (v: number) => (Math.max(0, v) / max) * PLOT_W;
  const text = (tx: number, ty: number, content: string, attrs = "") =>
    `<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;
  const parts = [
    text(20, 30, "RSS per idle connection", 'font-size="18" font-weight="bold"'),
    text(20, 50, `${idle.connections} connections to one server process each, ${startedAt}`, 'fill="#555"'),
  ];
  let y = 75;
  for (const bar of bars) {
    const w = Math.max(1, x(bar.value));
    parts.push(text(LABEL_W - 8, y + 15, bar.label, 'text-anchor="end"'));
    parts.push(
      `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="22" fill="${bar.herald ? "#d9822b" : "#8aa4c8"}"/>`,
    );
    parts.push(text(LABEL_W + w + 6, y + 15, `${formatNumber(bar.value)} B`));
    y += 30;
  }
  const target = LABEL_W + x(IDLE_TARGET_BYTES);
  parts.push(
    `<line x1="${target.toFixed(1)}" y1="68" x2="${target.toFixed(1)}" y2="${y}" stroke="#333" stroke-dasharray="5,3"/>`,
    text(target + 4, 66, `target ≤ ${formatNumber(IDLE_TARGET_BYTES)} B`, 'font-size="11"'),
  );
  y += 20;
  const { heraldVsRawWs, heraldVsSocketIo } = idleRatios(idle);
  parts.push(
    text(
      20,
      y,
      `Herald ÷ raw ws ${heraldVsRawWs ?? "-"}, Herald ÷ Socket.IO ${heraldVsSocketIo ?? "-"}; RSS growth from /proc after a settle, load ${idle.loadAverage.join(" → ")}.`,
      'font-size="11" fill="#555"',
    ),
  );
  const height = Math.ceil(y + 20);
  return svgDocument(WIDTH, height, parts);
}
