import { renderPartChart } from "./part-chart.js";
import type { ScaleResult } from "./scale-run.js";
import { formatNumber } from "./svg.js";

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

/** The part's figures, one per line (the run's summary and the chart). */
export function scaleLines(scale: ScaleResult | undefined): string[] {
  if (!scale) return [];
  const per = scale.memory.map((m) => m.perConnectionBytes);
  const settled = scale.settledMemory?.map((m) => m.perConnectionBytes);
  const d = scale.delivery;
  const p = scale.presence;
  const beats = scale.presenceBeats;
  return [
    `Scale: ${formatNumber(scale.connections)} connections on ${scale.connectors} connectors from ${scale.clientProcesses} load generators and ${scale.sourceAddresses} source addresses in ${scale.connect.seconds} s (${formatNumber(scale.connect.perSecond)}/s)`,
    `Scale RSS per connection by connector, 3 s after the last connected: ${per.map(kb).join(", ")} (mean ${kb(mean(per))})`,
    ...(settled && scale.settledAfterMs
      ? [
          `Scale RSS per connection by connector, ${scale.settledAfterMs / 1000} s after: ${settled.map(kb).join(", ")} (mean ${kb(mean(settled))})`,
        ]
      : []),
    `Scale delivery: broadcast + ${formatNumber(scale.connections)} targeted, all received in ${d.allReceivedSeconds ?? "-"} s (targeted PubAcked in ${d.targetedPublishSeconds} s); lost ${d.lost} (missing broadcast ${d.received.missingBroadcast}, targeted ${d.received.missingTargeted}), duplicates ${d.received.duplicates}`,
    `Scale presence: ${formatNumber(p.users)} users, ${formatNumber(p.connections)} connections (${p.exact ? `exact after ${p.secondsToExact} s` : "NOT exact"}); heartbeats ${beats.reports} reports in ${beats.windowSeconds} s, ${formatNumber(beats.bytesPerReport)} B per report`,
    `Scale load average ${scale.loadAverage.join(" → ")}`,
  ];
}

export function renderScaleChart(scale: ScaleResult, startedAt: string): string {
  return renderPartChart({
    title: `${formatNumber(scale.connections)} authenticated connections: RSS per connection by connector`,
    subtitle: `${scale.connectors} connectors, ${scale.clientProcesses} load generators, ${startedAt}${scale.settledMemory ? ", once settled" : ""}`,
    bars: (scale.settledMemory ?? scale.memory).map((m, i) => ({
      label: `connector ${i} (${formatNumber(m.connections)} conns)`,
      value: m.perConnectionBytes,
      unit: "B",
    })),
    lines: scaleLines(scale),
  });
}
