import type { HeraldResult } from "./herald-run.js";
import { idleLines } from "./idle-report.js";
import { ladderBars, ladderChartNotes, ladderGroups, ladderVerdicts } from "./ladder-report.js";
import {
  type BenchResults,
  DURABLE_WRITES_PER_MESSAGE,
  latencyRuns,
  ok,
  P99_TARGET_MS,
  TRACING_BUDGET,
} from "./report.js";
import type { BaselineResult } from "./results.js";
import { type ChartInput, formatNumber } from "./svg.js";

function chartNotes(results: BenchResults, herald: HeraldResult | undefined): string[] {
  if (!herald) return [];
  const t = results.targets;
  const verdict = (met: boolean | null) => (met === null ? "n/a" : met ? "met" : "missed");
  const cpu = herald.throughput.cpuMicrosPerMessage;
  return [
    `Herald ${t.throughput.actualMsgsPerSec} msg/s = ${results.ratios.heraldVsCeiling} × ceiling (target ≥ 0.5: ${verdict(t.throughput.met)}); ` +
      `p99 ${t.p99.actualMs} ms at ${t.p99.offeredRate} msg/s (target ≤ ${t.p99.targetMs} ms: ${verdict(t.p99.met)}).`,
    `p99 by offered rate: ${latencyRuns(herald)
      .map((run) => `${run.offeredRate} → ${run.latencyMs.p99} ms`)
      .join(", ")} (within ${t.p99.targetMs} ms up to ${t.p99.highestRateWithinTarget ?? "-"} msg/s).`,
    `Herald CPU per message: ${cpu.total} µs (nats-server ${cpu["nats-server"]}, connector ${cpu.connector}, router ${cpu.router}, ` +
      `persistence ${cpu.persistence}); CPU-bound rate on ${String(results.machine.cpus)} cores ${results.ceiling.heraldCpuBoundMsgsPerSec} msg/s.`,
    ...(herald.throughput.cpuSeconds.otherProcesses === undefined
      ? []
      : [
          `Other processes used ${herald.throughput.cpuSeconds.otherProcesses} CPU-s during Herald's saturation run (shared machine).`,
        ]),
  ];
}

/** Tracing off and on (mean of their rounds) for each way in, the on bar noted with the on ÷ off ratio. */
function tracingBars(results: BenchResults): ChartInput["throughput"] {
  const tracing = ok(results.tracing);
  if (!tracing) return [];
  return tracing.paths.flatMap((p) => {
    const mean = (mode: "off" | "on") => {
      const rounds = p.rounds.filter((r) => r.tracing === mode);
      return Math.round(rounds.reduce((a, r) => a + r.msgsPerSec, 0) / Math.max(1, rounds.length));
    };
    const verdict = p.throughputRatio >= TRACING_BUDGET ? "within" : "over";
    const way = p.path === "user" ? "send.user" : "via router";
    return [
      { label: `Herald ${way}, tracing off`, value: mean("off") },
      {
        label: `Herald ${way}, tracing on`,
        value: mean("on"),
        note: `${p.throughputRatio}× off (${verdict} the 10% budget)`,
      },
    ];
  });
}

/**
 * Compression off and on with the large payloads (the size above the threshold, where it acts; mean of the
 * rounds), the on bar noted with its wire bytes and throughput on ÷ off. The part's own chart has the rest.
 */
function compressionBars(results: BenchResults): ChartInput["throughput"] {
  const compression = ok(results.compression);
  const large = compression?.sizes.find((size) => size.payload === "large");
  if (!compression || !large) return [];
  const mean = (setting: "off" | "on") => {
    const rounds = compression.rounds.filter((r) => r.payload === "large" && r.compression === setting);
    return Math.round(rounds.reduce((a, r) => a + r.msgsPerSec, 0) / Math.max(1, rounds.length));
  };
  const label = `Herald, ${formatNumber(large.frameBytes)} B frames`;
  return [
    { label: `${label}, deflate off`, value: mean("off") },
    {
      label: `${label}, deflate on`,
      value: mean("on"),
      note: `${large.ratios.throughput}× off; bytes ${large.ratios.serverToClientBytes}×`,
    },
  ];
}

/** What the SVG shows. */
export function chartInput(results: BenchResults): ChartInput {
  const herald = ok(results.herald);
  const ws = ok(results.ws);
  const sio = ok(results.socketio);
  const nats = ok(results.nats);
  const bars: ChartInput["throughput"] = [];
  if (herald) {
    const r = results.ratios.heraldVsCeiling;
    bars.push({
      label: "Herald end to end (acked)",
      value: herald.throughput.msgsPerSec,
      highlight: true,
      ...(r === null ? {} : { note: `${r}× ceiling` }),
    });
    if (herald.burst) {
      const b = results.ratios.heraldBurstVsCeiling;
      bars.push({
        label: "Herald, burst (all at once)",
        value: herald.burst.msgsPerSec,
        ...(b === null || b === undefined ? {} : { note: `${b}× ceiling` }),
      });
    }
  }
  bars.push(...ladderBars({ herald, ws, sio }, results.ratios));
  bars.push(...tracingBars(results));
  bars.push(...compressionBars(results));
  if (results.ceiling.heraldCeilingMsgsPerSec !== null) {
    bars.push({
      label: `ceiling: JetStream ÷ ${DURABLE_WRITES_PER_MESSAGE} writes`,
      value: results.ceiling.heraldCeilingMsgsPerSec,
    });
  }
  if (nats) {
    bars.push({ label: "raw JetStream publish", value: nats.jetStreamPublish.msgsPerSec });
    if (nats.jetStreamPublishPipelined) {
      bars.push({ label: "raw JetStream, pipelined", value: nats.jetStreamPublishPipelined.msgsPerSec });
    }
    bars.push({ label: "core NATS pub→sub", value: nats.core.msgsPerSec });
  }
  if (ws) bars.push({ label: "raw ws (no broker, no acks)", value: ws.throughput.msgsPerSec });
  if (sio) {
    const lost = sio.throughput.messages - sio.throughput.delivered;
    bars.push({
      label: "Socket.IO + Redis Streams",
      value: sio.throughput.msgsPerSec,
      ...(lost > 0 ? { note: `(${lost} lost)` } : {}),
    });
  }
  const latency: ChartInput["latency"] = [];
  const group = (label: string, r: BaselineResult | HeraldResult | undefined) => {
    if (r) latency.push({ label, ...r.latency.latencyMs });
  };
  group("Herald", herald);
  group("raw ws", ws);
  group("Socket.IO + Redis", sio);
  const ladder = ladderGroups({ herald, ws, sio });
  latency.push(...ladder);
  const target = results.targets.throughput.targetMsgsPerSec;
  const users = (results.options.users as number | undefined) ?? 0;
  const rate = (results.options.rate as number | undefined) ?? 0;
  return {
    title: "Herald benchmark",
    subtitle: `${users} connected users, one machine (${String(results.machine.cpus)} cores), ${results.startedAt}`,
    throughput: bars,
    ...(target === null
      ? {}
      : { throughputTarget: { label: `target ${formatNumber(target)}`, value: target } }),
    latency,
    latencyTargetMs: P99_TARGET_MS,
    latencyTitle: `Publish → receive latency at ${rate} msg/s offered${ladder.length > 0 ? ", and on the ladder (passing steps)" : ""} (log scale)`,
    notes: [
      ...chartNotes(results, herald),
      ...ladderVerdicts({ herald, ws, sio }, results),
      ...ladderChartNotes({ herald, ws, sio }),
      ...idleLines(ok(results.idle)),
    ],
  };
}
