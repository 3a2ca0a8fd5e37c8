import type { ActiveResult, IdleMemory, IdleResult } from "./idle-run.js";
import { escapeXml, formatNumber, svgDocument } from "./svg.js";

/** The issue's target: RSS per idle authenticated connection on one connector. */
export const IDLE_TARGET_BYTES = 6_000;
/** The issue's target while each connection receives one message per second. */
export const ACTIVE_TARGET_BYTES = 10_000;

const SYSTEMS = [
  ["Herald connector (authenticated)", "herald"],
  ["raw ws", "ws"],
  ["Socket.IO (Redis Streams adapter)", "socketio"],
] as const;

const perConn = (part: IdleResult["herald"]) =>
  "skipped" in part ? undefined : (part as IdleMemory).perConnectionBytes;

/** The active phase's figures, when it ran. */
export const activeOf = (part: IdleResult["herald"]): ActiveResult | undefined => {
  const active = "skipped" in part ? undefined : part.active;
  return active && !("skipped" in active) ? active : undefined;
};

/** Herald's RSS per idle connection ÷ each baseline's, and whether it meets the target. */
export function idleRatios(idle: IdleResult) {
  const herald = perConn(idle.herald);
  const ratio = (other: number | undefined) =>
    herald === undefined || other === undefined || other <= 0
      ? null
      : Math.round((herald / other) * 100) / 100;
  const active = activeOf(idle.herald)?.perConnectionBytes;
  const activeRatio = (other: IdleResult["herald"]) => {
    const value = activeOf(other)?.perConnectionBytes;
    return active === undefined || value === undefined || value <= 0
      ? null
      : Math.round((active / value) * 100) / 100;
  };
  return {
    heraldVsRawWs: ratio(perConn(idle.ws)),
    heraldVsSocketIo: ratio(perConn(idle.socketio)),
    withinTarget: herald === undefined ? null : herald <= IDLE_TARGET_BYTES,
    activeHeraldVsRawWs: activeRatio(idle.ws),
    activeHeraldVsSocketIo: activeRatio(idle.socketio),
    activeWithinTarget: active === undefined ? null : active <= ACTIVE_TARGET_BYTES,
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
  const first = SYSTEMS.map(([label, key]) => {
    const part = idle[key];
    return "skipped" in part || !part.justConnected
      ? `${label} -`
      : `${label} ${part.justConnected.perConnectionBytes} B`;
  });
  const settledMs = SYSTEMS.map(([, key]) => idle[key])
    .map((p) => ("skipped" in p ? undefined : p.settledAfterMs))
    .find((ms) => ms !== undefined);
  const settledAfter = settledMs === undefined ? undefined : settledMs / 1000;
  const verdict = (met: boolean | null) => (met === null ? "n/a" : met ? "MET" : "MISSED");
  const active = SYSTEMS.map(([label, key]) => {
    const a = activeOf(idle[key]);
    if (!a) return `${label} -`;
    const herald =
      a.receipted === undefined
        ? ""
        : `, ${a.achievedMsgsPerSec} msg/s achieved, ${a.receipted}/${a.messages} receipted, lost ${a.lost}, connector ${a.connectorCpuMicrosPerMessage ?? "-"} µs CPU/msg`;
    return `${label} ${a.perConnectionBytes} B (peak ${a.peakPerConnectionBytes} B${herald})`;
  });
  return [
    `Idle RSS per connection at ${idle.connections} connections${settledAfter ? `, ${settledAfter} s after the last connected` : ""}: ${each.join(", ")}`,
    ...(settledAfter ? [`Idle RSS per connection 3 s after the last connected: ${first.join(", ")}`] : []),
    `Idle Herald / raw ws ${r.heraldVsRawWs ?? "-"}, Herald / Socket.IO ${r.heraldVsSocketIo ?? "-"} (target ≤ ${IDLE_TARGET_BYTES} B: ${verdict(r.withinTarget)}; load ${idle.loadAverage.join(" → ")})`,
    `RSS per connection receiving 1 msg/s each: ${active.join(", ")}`,
    `Active Herald / raw ws ${r.activeHeraldVsRawWs ?? "-"}, Herald / Socket.IO ${r.activeHeraldVsSocketIo ?? "-"} (target ≤ ${ACTIVE_TARGET_BYTES} B: ${verdict(r.activeWithinTarget)})`,
  ];
}

const WIDTH = 820;
const LABEL_W = 300;
const PLOT_W = WIDTH - LABEL_W - 120;

/** A bar chart of RSS per idle connection (linear scale, the target marked). */
export function renderIdleChart(idle: IdleResult, startedAt: string): string {
  const bars = SYSTEMS.flatMap(([label, key]) => {
    const value = perConn(idle[key]);
    const part = idle[key];
    const first = "skipped" in part ? undefined : part.justConnected?.perConnectionBytes;
    const active = activeOf(idle[key])?.perConnectionBytes;
    return [
      ...(value === undefined
        ? []
        : [{ label: `${label}, idle`, value, herald: key === "herald", active: false }]),
      ...(first === undefined
        ? []
        : [{ label: "3 s after connecting", value: first, herald: key === "herald", active: true }]),
      ...(active === undefined
        ? []
        : [{ label: "receiving 1 msg/s", value: active, herald: key === "herald", active: true }]),
    ];
  });
  const max = Math.max(ACTIVE_TARGET_BYTES, ...bars.map((b) => b.value)) * 1.1;
  const x = (v: number) => (Math.max(0, v) / max) * PLOT_W;
  const text = (tx: number, ty: number, content: string, attrs = "") =>
    `<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;
  const parts = [
    text(
      20,
      30,
      "RSS per connection: idle (settled, and just after connecting), and receiving 1 msg/s",
      'font-size="18" font-weight="bold"',
    ),
    text(20, 50, `${idle.connections} connections to one server process each, ${startedAt}`, 'fill="#555"'),
  ];
  let y = 75;
  for (const bar of bars) {
    const w = Math.max(1, x(bar.value));
    parts.push(text(LABEL_W - 8, y + 15, bar.label, 'text-anchor="end"'));
    parts.push(
      `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="22" fill="${bar.herald ? "#d9822b" : "#8aa4c8"}"${bar.active ? ' fill-opacity="0.55"' : ""}/>`,
    );
    parts.push(text(LABEL_W + w + 6, y + 15, `${formatNumber(bar.value)} B`));
    y += 30;
  }
  for (const [value, label] of [
    [IDLE_TARGET_BYTES, "idle"],
    [ACTIVE_TARGET_BYTES, "active"],
  ] as const) {
    const target = LABEL_W + x(value);
    parts.push(
      `<line x1="${target.toFixed(1)}" y1="68" x2="${target.toFixed(1)}" y2="${y}" stroke="#333" stroke-dasharray="5,3"/>`,
      text(target + 4, 66, `${label} ≤ ${formatNumber(value)} B`, 'font-size="11"'),
    );
  }
  y += 20;
  const { heraldVsRawWs, heraldVsSocketIo } = idleRatios(idle);
  parts.push(
    text(
      20,
      y,
      `Herald ÷ raw ws ${heraldVsRawWs ?? "-"}, Herald ÷ Socket.IO ${heraldVsSocketIo ?? "-"}; idle: RSS growth from /proc once settled (pale: 3 s after connecting, and receiving), load ${idle.loadAverage.join(" → ")}.`,
      'font-size="11" fill="#555"',
    ),
  );
  const height = Math.ceil(y + 20);
  return svgDocument(WIDTH, height, parts);
}
