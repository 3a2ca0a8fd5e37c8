import { escapeXml, formatNumber, svgDocument } from "./svg.js";

/**
 * One reading of every process: seconds since the load started, RSS and (Node services) heap used, bytes; and
 * what JetStream stores (all streams' bytes and messages), which nats-server's memory follows.
 */
export type SoakSample = {
  atSec: number;
  rss: Record<string, number>;
  heapUsed: Record<string, number>;
  stored?: { bytes: number; messages: number };
};

/** A process's memory over the soak: its first and last reading and the trend of the second half. */
export type SoakTrend = {
  rssStartBytes: number;
  rssEndBytes: number;
  /** Least-squares slope of RSS over the second half of the samples, bytes per minute. */
  rssSlopeBytesPerMin: number;
  heapStartBytes: number | null;
  heapEndBytes: number | null;
  heapSlopeBytesPerMin: number | null;
  /**
   * The lowest heap reading of the first and of the last quarter of the soak: the live heap's change. A nearly
   * idle process lets garbage pile up for many minutes before a full GC, so its raw heap is a sawtooth whose
   * slope says little; its floor says whether what survives a collection grows.
   */
  heapFloorBytes: { first: number; last: number } | null;
  /** The second half's slope over an hour stays under `FLAT_FRACTION` of the last RSS. */
  flat: boolean;
};

/** "Flat": what the second half's trend would add in an hour is under 5 % of the process's RSS. */
export const FLAT_FRACTION = 0.05;

/**
 * Least-squares slope of `points` ([x, y]), y per x; 0 with fewer than two distinct x.
 *
 * @example
 * slope([[0, 1], [1, 3], [2, 5]]) // 2
 */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The lowest reading of the first and of the last quarter of `samples` (by time). */
export function quarterFloors(
  samples: readonly SoakSample[],
  pick: (s: SoakSample) => number | undefined,
): { first: number; last: number } | null {
  const end = samples.at(-1)?.atSec ?? 0;
  const floor = (keep: (atSec: number) => boolean) =>
    Math.min(...samples.flatMap((s) => (keep(s.atSec) && pick(s) !== undefined ? [pick(s) ?? 0] : [])));
  const first = floor((t) => t <= end / 4);
  const last = floor((t) => t >= (end * 3) / 4);
  return Number.isFinite(first) && Number.isFinite(last) ? { first, last } : null;
}

/** Each process's trend from the samples (the slope from the second half, by time). */
export function soakTrends(samples: readonly SoakSample[]): Record<string, SoakTrend> {
  const first = samples[0];
  const last = samples.at(-1);
  if (!first || !last) return {};
  const half = last.atSec / 2;
  const late = samples.filter((s) => s.atSec >= half);
  const perMin = (pick: (s: SoakSample) => number | undefined) =>
    Math.round(
      slope(late.flatMap((s) => (pick(s) === undefined ? [] : [[s.atSec / 60, pick(s) ?? 0] as const]))),
    );
  const out: Record<string, SoakTrend> = {};
  for (const name of Object.keys(last.rss)) {
    const rssSlope = perMin((s) => s.rss[name]);
    const hasHeap = last.heapUsed[name] !== undefined;
    const rssEnd = last.rss[name] ?? 0;
    out[name] = {
      rssStartBytes: first.rss[name] ?? 0,
      rssEndBytes: rssEnd,
      rssSlopeBytesPerMin: rssSlope,
      heapStartBytes: first.heapUsed[name] ?? null,
      heapEndBytes: last.heapUsed[name] ?? null,
      heapSlopeBytesPerMin: hasHeap ? perMin((s) => s.heapUsed[name]) : null,
      heapFloorBytes: hasHeap ? quarterFloors(samples, (s) => s.heapUsed[name]) : null,
      flat: rssSlope * 60 < FLAT_FRACTION * rssEnd,
    };
  }
  return out;
}

export type SoakResult = {
  connections: number;
  /** Messages published per second, over all connections. */
  rate: number;
  minutes: number;
  published: number;
  publishErrors: number;
  /** Distinct messages the clients received. */
  delivered: number;
  duplicates: number;
  /** Distinct receipts: the message was delivered, acked by its client and the ack applied. */
  receipted: number;
  /** Published messages with no receipt at the end. */
  lost: number;
  /** Connections the server closed during the soak. */
  closedEarly: number;
  samples: SoakSample[];
  trends: Record<string, SoakTrend>;
  /** Slope of JetStream's stored bytes over the second half, bytes per minute (as the RSS trends). */
  storedSlopeBytesPerMin: number | null;
  /** Env given to every service (`BENCH_SOAK_ENV`), on top of the defaults. */
  env: Record<string, string>;
  loadAverage: [number, number];
};

const MiB = 2 ** 20;

/** The second half's slope of JetStream's stored bytes, per minute; null when no sample has them. */
export function storedSlope(samples: readonly SoakSample[]): number | null {
  const half = (samples.at(-1)?.atSec ?? 0) / 2;
  const points = samples.flatMap((s) =>
    s.stored && s.atSec >= half ? [[s.atSec / 60, s.stored.bytes] as const] : [],
  );
  return points.length < 2 ? null : Math.round(slope(points));
}

/** Lines for the run's summary. */
export function soakLines(soak: SoakResult | undefined): string[] {
  if (!soak) return [];
  const each = Object.entries(soak.trends).map(
    ([name, t]) =>
      `${name} ${(t.rssStartBytes / MiB).toFixed(1)} → ${(t.rssEndBytes / MiB).toFixed(1)} MiB ` +
      `(${formatNumber(t.rssSlopeBytesPerMin)} B/min, ${t.flat ? "flat" : "GROWING"})`,
  );
  return [
    `Soak: ${soak.connections} connections, ${soak.rate} msg/s for ${soak.minutes} min: ${soak.published} published, ` +
      `${soak.delivered} delivered, ${soak.receipted} receipted, lost ${soak.lost}, publish errors ${soak.publishErrors}`,
    `Soak RSS (start → end, second-half slope): ${each.join("; ")}`,
    ...heapFloorLine(soak),
    ...storedLine(soak),
  ];
}

/** What JetStream stored over the soak, which nats-server's memory follows; and the services' extra env. */
function storedLine(soak: SoakResult): string[] {
  const stored = soak.samples.flatMap((s) => (s.stored ? [s.stored] : []));
  const first = stored[0];
  const last = stored.at(-1);
  if (!first || !last) return [];
  const env = Object.entries(soak.env ?? {}).map(([k, v]) => `${k}=${v}`);
  return [
    `Soak JetStream store: ${(first.bytes / MiB).toFixed(1)} → ${(last.bytes / MiB).toFixed(1)} MiB ` +
      `(${formatNumber(first.messages)} → ${formatNumber(last.messages)} messages, second-half slope ` +
      `${formatNumber(soak.storedSlopeBytesPerMin ?? 0)} B/min); service env ${env.join(" ") || "defaults"}`,
  ];
}

/** The live heap of each Node service, first quarter against last (see `heapFloorBytes`). */
function heapFloorLine(soak: SoakResult): string[] {
  const mib = (bytes: number) => (bytes / MiB).toFixed(1);
  const each = Object.entries(soak.trends).flatMap(([name, t]) =>
    t.heapFloorBytes ? [`${name} ${mib(t.heapFloorBytes.first)} → ${mib(t.heapFloorBytes.last)} MiB`] : [],
  );
  return each.length ? [`Soak heap floor (lowest reading, first → last quarter): ${each.join("; ")}`] : [];
}

const COLORS = ["#d9822b", "#5b9bd5", "#9cc5a1", "#c0504d", "#8064a2", "#4d4d4d"];

/** RSS of every process over the soak, one line each (MiB, linear). */
export function renderSoakChart(soak: SoakResult, startedAt: string): string {
  const width = 860;
  const left = 70;
  const top = 70;
  const plotW = 560;
  const plotH = 300;
  const names = Object.keys(soak.trends);
  const maxRss = Math.max(1, ...soak.samples.flatMap((s) => Object.values(s.rss))) * 1.1;
  const maxT = Math.max(1, soak.samples.at(-1)?.atSec ?? 1);
  const x = (sec: number) => left + (sec / maxT) * plotW;
  const y = (bytes: number) => top + plotH - (bytes / maxRss) * plotH;
  const text = (tx: number, ty: number, content: string, attrs = "") =>
    `<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;
  const parts = [
    text(20, 28, "Soak: RSS of every process", 'font-size="18" font-weight="bold"'),
    text(
      20,
      48,
      `${soak.connections} connections, ${soak.rate} msg/s for ${soak.minutes} min, ${startedAt}; lost ${soak.lost} of ${soak.published}`,
      'fill="#555"',
    ),
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = (maxRss / 4) * k;
    parts.push(text(left - 6, y(v) + 4, `${Math.round(v / MiB)} MiB`, 'text-anchor="end" font-size="11"'));
  }
  for (let k = 0; k <= 4; k++) {
    const sec = (maxT / 4) * k;
    parts.push(
      text(x(sec), top + plotH + 16, `${Math.round(sec / 60)} min`, 'text-anchor="middle" font-size="11"'),
    );
  }
  names.forEach((name, i) => {
    const color = COLORS[i % COLORS.length];
    const points = soak.samples
      .filter((s) => s.rss[name] !== undefined)
      .map((s) => `${x(s.atSec).toFixed(1)},${y(s.rss[name] ?? 0).toFixed(1)}`)
      .join(" ");
    parts.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    const t = soak.trends[name];
    const label = `${name}: ${formatNumber(t?.rssSlopeBytesPerMin ?? 0)} B/min${t?.flat ? "" : " (growing)"}`;
    parts.push(
      `<rect x="${left + plotW + 20}" y="${top + i * 22}" width="12" height="12" fill="${color}"/>`,
      text(left + plotW + 38, top + i * 22 + 11, label, 'font-size="12"'),
    );
  });
  parts.push(
    text(
      20,
      top + plotH + 44,
      "Slope: least squares over the second half. Every message carries an id; lost = published without a receipt (delivered, acked, ack applied).",
      'font-size="11" fill="#555"',
    ),
  );
  return svgDocument(width, top + plotH + 60, parts);
}
