import { renderPartChart } from "./part-chart.js";
import type { StormCpu } from "./storm-analysis.js";
import type { StormResult } from "./storm-run.js";
import { formatNumber } from "./svg.js";

/** The issue's goal: every client of the killed connector back, with its backlog, within 10 s. */
export const STORM_TARGET_MS = 10_000;

const seconds = (ms: number | null) => (ms === null ? "never" : `${(ms / 1000).toFixed(2)} s`);

export function stormLines(storm: StormResult | undefined): string[] {
  if (!storm) return [];
  const a = storm.analysis;
  const m = storm.messages;
  const refused = Object.entries(storm.refusals).map(([reason, n]) => `${reason} ${n}`);
  const met = a.allCaughtUpMs !== null && a.allCaughtUpMs <= STORM_TARGET_MS && a.lost === 0;
  const limits = Object.entries(storm.limits.connectorEnv).map(([k, v]) => `${k}=${v}`);
  return [
    `Storm: ${formatNumber(storm.clients)} SDK clients on 1 of ${storm.connectors} connectors, killed under ${storm.rate} msg/s: all reconnected ${seconds(a.allReconnectedMs)} (p50 ${seconds(a.reconnectMs.p50)}, p99 ${seconds(a.reconnectMs.p99)}), all caught up ${seconds(a.allCaughtUpMs)} (goal ≤ ${STORM_TARGET_MS / 1000} s: ${met ? "MET" : "MISSED"})`,
    `Storm messages: ${formatNumber(m.acked)} acked of ${formatNumber(m.published)}, delivered ${formatNumber(a.delivered)}, not delivered when the part ended ${a.lost} (lost, unless clients were still out), duplicates seen by the app ${m.duplicatesSeenByApp}; survivors refused ${refused.join(", ") || "none"}`,
    `Storm clients noticed the kill after p50 ${seconds(a.noticedMs.p50)}, max ${seconds(a.noticedMs.max)}; attempts per client mean ${a.attempts.mean}, max ${a.attempts.max}; endings ${JSON.stringify(storm.endings)}`,
    ...cpuLines("Storm CPU from the kill until all were back", storm.cpu),
    ...rawLines(storm),
    ...cpuLines("Storm CPU, raw ws, from the kill until all were back", storm.rawWs?.cpu),
    `Storm presence afterwards: ${formatNumber(storm.presence.users)} users, ${formatNumber(storm.presence.connections)} connections (${storm.presence.exact ? `exact ${storm.presence.secondsAfterKill} s after the kill` : "NOT exact"}); connector env ${limits.join(" ") || "defaults"}; load ${storm.loadAverage.join(" → ")}`,
  ];
}

/** CPU by kind of process over the storm's window, busiest first, and per client that came back. */
function cpuLines(label: string, cpu: StormCpu | undefined): string[] {
  if (!cpu) return [];
  const kinds = Object.entries(cpu.seconds)
    .sort((a, b) => b[1] - a[1])
    .map(
      ([kind, s]) => `${kind} ${s.toFixed(2)} s (${(cpu.msPerClient[kind] ?? 0).toFixed(2)} ms per client)`,
    );
  return [
    `${label} (${cpu.windowSeconds.toFixed(2)} s, ${cpu.busyCores.toFixed(2)} cores busy): ${kinds.join(", ")}`,
  ];
}

/** The raw `ws` baseline's figures beside Herald's: the harness's floor on this machine. */
function rawLines(storm: StormResult): string[] {
  const raw = storm.rawWs;
  if (!raw) return [];
  const herald = storm.analysis.allReconnectedMs;
  const ratio =
    herald !== null && raw.allReconnectedMs
      ? ` (Herald ÷ raw ws ${(herald / raw.allReconnectedMs).toFixed(2)})`
      : "";
  return [
    `Storm, raw ws in the same run (${formatNumber(raw.clients)} bare ws clients on 1 of ${raw.servers} plain ws servers, same load generator and backoff, no messages): all reconnected ${seconds(raw.allReconnectedMs)} (p50 ${seconds(raw.reconnectMs.p50)}, p99 ${seconds(raw.reconnectMs.p99)})${ratio}; attempts per client mean ${raw.attempts.mean}, max ${raw.attempts.max}; load ${raw.loadAverage.join(" → ")}`,
  ];
}

export function renderStormChart(storm: StormResult, startedAt: string): string {
  const a = storm.analysis;
  const bar = (label: string, ms: number | null) => (ms === null ? [] : [{ label, value: ms, unit: "ms" }]);
  return renderPartChart({
    title: `Reconnect storm: ${formatNumber(storm.clients)} clients of a killed connector`,
    subtitle: `${storm.connectors} connectors, ${storm.rate} msg/s to the clients' users, ${startedAt}`,
    bars: [
      ...bar("reconnected, p50", a.reconnectMs.p50),
      ...bar("reconnected, p99", a.reconnectMs.p99),
      ...bar("all reconnected", a.allReconnectedMs),
      ...bar("caught up, p99", a.caughtUpMs.p99),
      ...bar("all caught up", a.allCaughtUpMs),
      ...bar("raw ws: reconnected, p50", storm.rawWs?.reconnectMs.p50 ?? null),
      ...bar("raw ws: all reconnected", storm.rawWs?.allReconnectedMs ?? null),
    ],
    target: { value: STORM_TARGET_MS, label: `goal ≤ ${STORM_TARGET_MS / 1000} s` },
    lines: stormLines(storm),
  });
}
