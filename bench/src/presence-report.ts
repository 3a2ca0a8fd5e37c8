import { join } from "node:path";
import type { LatencySummary } from "./stats.js";
import { escapeXml, formatNumber, svgDocument } from "./svg.js";

/** The issue's targets for presence. */
export const PRESENCE_TARGETS = { queryP99Ms: 5, eventLagP99Ms: 100, bytesPerConnection: 500 } as const;

export type PresenceOptions = {
  connections: number;
  connectors: number;
  /** Opens + closes per second in the load phase. */
  churnRate: number;
  churnSeconds: number;
  /** `presence.get` requests per second in the load phase. */
  queryRate: number;
  /** The simulated connectors' PRESENCE_HEARTBEAT_INTERVAL. */
  heartbeatMs: number;
  /**
   * Scheduling priority (nice, -20..19) of the benchmark's processes (presence, nats-server, worker, this
   * one); 0 = unchanged. A negative value shields the figures from other work on a shared machine (root).
   */
  nice: number;
  outDir: string;
};

/** One measured interval mix: what went to presence per beat (all connectors together). */
export type WirePhase = {
  connections: number;
  /** `beats`: this release; `full heartbeats`: every connector's whole list every interval, as before. */
  mode: "beats" | "full heartbeats";
  changesPerBeat: number;
  achievedChangesPerBeat: number;
  /** Report and sync payload + subject bytes per interval. */
  bytesPerBeat: number;
  messagesPerBeat: number;
  beatsCounted: number;
};

export type PresenceWireResults = {
  heartbeatMs: number;
  beatsPerPhase: number;
  phases: WirePhase[];
  /** Whether presence's count matched the connectors' after each size's phases. */
  exact: { connections: number; expected: number; tracked: number }[];
  /** Beats that did not match presence's view (each asks that connector for a full heartbeat). */
  beatMismatches: number;
  gaps: number;
};

export type PresenceBenchResults = {
  connections: number;
  users: number;
  connectors: number;
  fillSeconds: number;
  memory: {
    heapEmptyBytes: number;
    heapFullBytes: number;
    heapBytesPerConnection: number;
    rssEmptyBytes: number;
    rssFullBytes: number;
    rssBytesPerConnection: number;
  };
  query: LatencySummary & { failed: number; offeredPerSecond: number };
  eventLag: LatencySummary & {
    missing: number;
    /** Report publish → presence applied it (the event's `at`), ms-epoch clocks: the part before presence emits. */
    untilPresenceApplied: LatencySummary;
    opens: number;
    closes: number;
    achievedPerSecond: number;
  };
  trackedAfterChurn: number;
  cpuSeconds: Record<string, number>;
  presenceMetrics: {
    eventLoopLagP99Ms: number | null;
    eventLoopLagMaxMs: number | null;
    reports: Record<string, number>;
    gaps: number;
    /** Heartbeat parts applied from their digest, without parsing (identical to the previous heartbeat's). */
    heartbeatPartsUnchanged: number;
  };
  wire: PresenceWireResults;
};

/** Raised for an unknown flag or a bad value. */
export class PresenceOptionsError extends Error {
  override name = "PresenceOptionsError";
  readonly code = "bench_presence_options";
}

const FLAGS: Record<string, Exclude<keyof PresenceOptions, "outDir">> = {
  "--connections": "connections",
  "--connectors": "connectors",
  "--churn-rate": "churnRate",
  "--churn-seconds": "churnSeconds",
  "--query-rate": "queryRate",
  "--heartbeat-ms": "heartbeatMs",
  "--nice": "nice",
};

export const PRESENCE_USAGE = `node bench/dist/presence-main.js [--connections 100000] [--connectors 4]
  [--churn-rate 1000] [--churn-seconds 20] [--query-rate 500] [--heartbeat-ms 3000] [--nice 0] [--out DIR]`;

/**
 * Flags of `presence-main`, defaulting to the issue's benchmark (100k connections over 4 connectors, 1,000
 * connects+disconnects per second).
 *
 * @example
 * parsePresenceOptions(["--connections", "20000"], "/repo/bench").connections // 20000
 */
export function parsePresenceOptions(argv: readonly string[], benchDir: string): PresenceOptions {
  const o: PresenceOptions = {
    connections: 100_000,
    connectors: 4,
    churnRate: 1_000,
    churnSeconds: 20,
    queryRate: 500,
    heartbeatMs: 3_000,
    nice: 0,
    outDir: join(benchDir, "results"),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? "";
    const value = argv[i + 1];
    if (value === undefined) throw new PresenceOptionsError(`${flag} needs a value`);
    if (flag === "--out") {
      o.outDir = value;
      continue;
    }
    const key = FLAGS[flag];
    if (!key) throw new PresenceOptionsError(`unknown option ${flag}`);
    const n = Number(value);
    if (key === "nice") {
      if (!Number.isInteger(n) || n < -20 || n > 19) throw new PresenceOptionsError("--nice must be -20..19");
    } else if (!Number.isInteger(n) || n <= 0) {
      throw new PresenceOptionsError(`${flag} must be a positive integer`);
    }
    o[key] = n;
  }
  return o;
}

/** Which targets were met. */
export function presenceVerdicts(r: PresenceBenchResults) {
  return {
    queryP99: r.query.p99 <= PRESENCE_TARGETS.queryP99Ms,
    eventLagP99: r.eventLag.p99 <= PRESENCE_TARGETS.eventLagP99Ms,
    bytesPerConnection: r.memory.heapBytesPerConnection <= PRESENCE_TARGETS.bytesPerConnection,
  };
}

export function presenceSummary(r: PresenceBenchResults): string {
  const v = presenceVerdicts(r);
  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  return [
    `presence: ${r.connections} connections of ${r.users} users over ${r.connectors} connectors`,
    `  presence.get    p50 ${r.query.p50} ms  p99 ${r.query.p99} ms  max ${r.query.max} ms  (${r.query.count} queries, ${r.query.failed} failed)  target p99 <= ${PRESENCE_TARGETS.queryP99Ms} ms: ${mark(v.queryP99)}`,
    `  event lag       p50 ${r.eventLag.p50} ms  p99 ${r.eventLag.p99} ms  max ${r.eventLag.max} ms  (${r.eventLag.achievedPerSecond}/s, ${r.eventLag.missing} missing)  target p99 <= ${PRESENCE_TARGETS.eventLagP99Ms} ms: ${mark(v.eventLagP99)}`,
    `  of which        p50 ${r.eventLag.untilPresenceApplied.p50} ms  p99 ${r.eventLag.untilPresenceApplied.p99} ms until presence applied the report (ms clock)`,
    `  memory          ${r.memory.heapBytesPerConnection} heap B/connection, ${r.memory.rssBytesPerConnection} RSS B/connection  target <= ${PRESENCE_TARGETS.bytesPerConnection}: ${mark(v.bytesPerConnection)}`,
    `  event loop      p99 ${r.presenceMetrics.eventLoopLagP99Ms} ms  max ${r.presenceMetrics.eventLoopLagMaxMs} ms during the load phase`,
    `  CPU seconds     ${Object.entries(r.cpuSeconds)
      .map(([name, seconds]) => `${name} ${seconds}`)
      .join(", ")} (load phase)`,
    ...wireLines(r.wire),
  ].join("\n");
}

/** "12.3 MB", "4.5 kB", "380 B". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${Math.round(bytes)} B`;
}

/** The "before" phase matching a "beats" one (same size and changes). */
function before(wire: PresenceWireResults, p: WirePhase): WirePhase | undefined {
  return wire.phases.find(
    (q) =>
      q.mode === "full heartbeats" &&
      q.connections === p.connections &&
      q.changesPerBeat === p.changesPerBeat,
  );
}

function wireLines(wire: PresenceWireResults): string[] {
  const lines = wire.phases
    .filter((p) => p.mode === "beats")
    .map((p) => {
      const old = before(wire, p);
      return `  bytes per beat  ${formatNumber(p.connections)} connections, ${formatNumber(p.changesPerBeat)} changes: ${formatBytes(p.bytesPerBeat)} (full heartbeats: ${old ? formatBytes(old.bytesPerBeat) : "n/a"})`;
    });
  const exact = wire.exact.map((e) => `${e.tracked}/${e.expected}`).join(", ");
  return [
    ...lines,
    `  exactness       tracked/expected after the phases ${exact}; ${wire.beatMismatches} beat mismatches, ${wire.gaps} gaps`,
  ];
}

/** Bytes per beat, before and after, on a log scale (they differ by up to five orders of magnitude). */
function wirePanel(wire: PresenceWireResults, top: number, labelW: number, plotW: number) {
  const out: string[] = [];
  let y = top;
  out.push(
    `<text x="20" y="${y}" font-weight="bold">${escapeXml("bytes to presence per beat interval (log scale; orange = full heartbeats, as before)")}</text>`,
  );
  y += 10;
  const values = wire.phases.map((p) => Math.max(1, p.bytesPerBeat));
  const maxLog = Math.ceil(Math.log10(Math.max(10, ...values)));
  const x = (v: number) => labelW + (Math.log10(Math.max(1, v)) / maxLog) * plotW;
  const sorted = [...wire.phases].sort(
    (a, b) =>
      a.connections - b.connections || a.changesPerBeat - b.changesPerBeat || (a.mode < b.mode ? -1 : 1),
  );
  for (const p of sorted) {
    const label = `${formatNumber(p.connections)} conn, ${formatNumber(p.changesPerBeat)} chg, ${p.mode === "beats" ? "beats" : "before"}`;
    out.push(`<text x="${labelW - 8}" y="${y + 13}" text-anchor="end">${escapeXml(label)}</text>`);
    const fill = p.mode === "beats" ? "#5b9bd5" : "#ed7d31";
    out.push(
      `<rect x="${labelW}" y="${y}" width="${Math.max(1, x(p.bytesPerBeat) - labelW).toFixed(1)}" height="17" fill="${fill}"/>`,
    );
    out.push(
      `<text x="${Math.round(x(p.bytesPerBeat) + 6)}" y="${y + 13}">${escapeXml(formatBytes(p.bytesPerBeat))}</text>`,
    );
    y += 21;
  }
  for (let e = 0; e <= maxLog; e++) {
    const tx = x(10 ** e).toFixed(1);
    out.push(`<line x1="${tx}" y1="${top + 4}" x2="${tx}" y2="${y}" stroke="#ddd"/>`);
    out.push(
      `<text x="${tx}" y="${y + 12}" font-size="10" text-anchor="middle">${escapeXml(formatBytes(10 ** e))}</text>`,
    );
  }
  return { out, y: y + 40 };
}

/** Three panels (query latency, event lag, bytes per connection), each bar against its target line. */
export function renderPresenceChart(r: PresenceBenchResults, subtitle: string): string {
  const width = 860;
  const labelW = 200;
  const plotW = 520;
  const panels: { title: string; unit: string; target: number; bars: [string, number][] }[] = [
    {
      title: "presence.get latency under load (ms)",
      unit: " ms",
      target: PRESENCE_TARGETS.queryP99Ms,
      bars: [
        ["p50", r.query.p50],
        ["p99", r.query.p99],
      ],
    },
    {
      title: `event lag at ${formatNumber(r.eventLag.achievedPerSecond)} connects+disconnects/s (ms)`,
      unit: " ms",
      target: PRESENCE_TARGETS.eventLagP99Ms,
      bars: [
        ["p50", r.eventLag.p50],
        ["p99", r.eventLag.p99],
      ],
    },
    {
      title: "memory per tracked connection (bytes)",
      unit: " B",
      target: PRESENCE_TARGETS.bytesPerConnection,
      bars: [
        ["heap (after full GC)", r.memory.heapBytesPerConnection],
        ["RSS", r.memory.rssBytesPerConnection],
      ],
    },
  ];
  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = "") =>
    `<text x="${x}" y="${y}" ${attrs}>${escapeXml(s)}</text>`;
  let y = 28;
  out.push(
    text(
      20,
      y,
      `Herald presence: ${formatNumber(r.connections)} connections, ${r.connectors} connectors`,
      'font-size="17" font-weight="bold"',
    ),
  );
  y += 20;
  out.push(text(20, y, subtitle, 'fill="#555"'));
  y += 30;
  for (const panel of panels) {
    out.push(text(20, y, panel.title, 'font-weight="bold"'));
    y += 10;
    const top = y;
    const max = Math.max(panel.target * 1.25, ...panel.bars.map(([, v]) => (Number.isFinite(v) ? v : 0)));
    const x = (v: number) => labelW + (Math.max(0, Number.isFinite(v) ? v : 0) / max) * plotW;
    for (const [label, value] of panel.bars) {
      const ok = value <= panel.target;
      out.push(text(labelW - 8, y + 15, label, 'text-anchor="end"'));
      out.push(
        `<rect x="${labelW}" y="${y}" width="${Math.max(1, x(value) - labelW).toFixed(1)}" height="20" fill="${ok ? "#5b9bd5" : "#c0504d"}"/>`,
      );
      out.push(text(Math.round(x(value) + 6), y + 15, `${formatNumber(value)}${panel.unit}`));
      y += 26;
    }
    const tx = x(panel.target).toFixed(1);
    out.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${y}" stroke="#333" stroke-dasharray="5,3"/>`);
    out.push(
      text(Number(tx) + 4, y + 12, `target ${formatNumber(panel.target)}${panel.unit}`, 'font-size="11"'),
    );
    y += 40;
  }
  const wire = wirePanel(r.wire, y, labelW, plotW);
  out.push(...wire.out);
  y = wire.y;
  return svgDocument(width, y, out);
}
