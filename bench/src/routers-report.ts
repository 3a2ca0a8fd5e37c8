import type { RoutersResult } from "./routers-run.js";
import { escapeXml, formatNumber, svgDocument } from "./svg.js";

/** Throughput and router CPU per write of each round relative to one replica's. */
export function routersScaling(result: RoutersResult) {
  const one = result.rounds.find((r) => r.replicas === 1);
  return result.rounds.map((r) => ({
    replicas: r.replicas,
    throughputVsOne: one ? Math.round((r.writesPerSec / one.writesPerSec) * 100) / 100 : null,
    cpuPerWriteVsOne: one
      ? Math.round((r.routerCpuMicrosPerWrite / one.routerCpuMicrosPerWrite) * 100) / 100
      : null,
    /** The busiest replica's share of the routers' CPU: 1 when one replica does all the routing. */
    busiestShare: busiestShare(r.routerCpuSeconds),
  }));
}

function busiestShare(seconds: number[]): number | null {
  const total = seconds.reduce((a, b) => a + b, 0);
  return total > 0 ? Math.round((Math.max(...seconds) / total) * 100) / 100 : null;
}

/** Lines for the run's summary. */
export function routersLines(result: RoutersResult | undefined): string[] {
  if (!result) return [];
  const scaling = routersScaling(result);
  return result.rounds.map((r, i) => {
    const s = scaling[i];
    return (
      `Routers ×${r.replicas}: ${r.writesPerSec} mailbox writes/s (×${s?.throughputVsOne ?? "-"}), ` +
      `router ${r.routerCpuMicrosPerWrite} µs CPU per write (×${s?.cpuPerWriteVsOne ?? "-"}), busiest replica ` +
      `${s?.busiestShare ?? "-"} of it (lanes ${r.lanesPerReplica.join("/")}), nats-server ` +
      `${r.natsCpuMicrosPerWrite} µs, ${r.leaseHandovers} lease handovers; at ${r.pacedWritesPerSec} writes/s ` +
      `router ${r.pacedRouterCpuMicrosPerWrite} µs CPU per write`
    );
  });
}

const WIDTH = 760;
const LABEL_W = 150;
const PLOT_W = 250;

/** Two bar groups per round: mailbox writes per second, and router CPU µs per write. */
export function renderRoutersChart(result: RoutersResult, startedAt: string): string {
  const text = (tx: number, ty: number, content: string, attrs = "") =>
    `<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;
  const maxRate = Math.max(1, ...result.rounds.map((r) => r.writesPerSec)) * 1.1;
  const maxCpu = Math.max(1, ...result.rounds.map((r) => r.routerCpuMicrosPerWrite)) * 1.1;
  const parts = [
    text(20, 30, "Router replicas: throughput and CPU per routed write", 'font-size="18" font-weight="bold"'),
    text(
      20,
      50,
      `${result.messages} send.users.<key> messages × ${result.usersPerMessage} users, ${startedAt}`,
      'fill="#555"',
    ),
    text(LABEL_W, 72, "mailbox writes / s", 'font-size="12" font-weight="bold"'),
    text(LABEL_W + PLOT_W + 90, 72, "router CPU µs / write", 'font-size="12" font-weight="bold"'),
  ];
  let y = 82;
  for (const r of result.rounds) {
    const rateW = Math.max(1, (r.writesPerSec / maxRate) * PLOT_W);
    const cpuW = Math.max(1, (r.routerCpuMicrosPerWrite / maxCpu) * PLOT_W);
    const cpuX = LABEL_W + PLOT_W + 90;
    parts.push(
      text(LABEL_W - 8, y + 15, `${r.replicas} replica${r.replicas === 1 ? "" : "s"}`, 'text-anchor="end"'),
      `<rect x="${LABEL_W}" y="${y}" width="${rateW.toFixed(1)}" height="22" fill="#d9822b"/>`,
      text(LABEL_W + rateW + 6, y + 15, formatNumber(r.writesPerSec)),
      `<rect x="${cpuX}" y="${y}" width="${cpuW.toFixed(1)}" height="22" fill="#8aa4c8"/>`,
      text(cpuX + cpuW + 6, y + 15, String(r.routerCpuMicrosPerWrite)),
    );
    y += 30;
  }
  y += 16;
  parts.push(
    text(
      20,
      y,
      `CPU of all router replicas together, from /proc; load average ${result.loadAverage.join(" → ")}.`,
      'font-size="11" fill="#555"',
    ),
  );
  return svgDocument(WIDTH, Math.ceil(y + 20), parts);
}
