import { type CompressionResult, compressionLines } from "./compression-report.js";
import type { HeraldResult } from "./herald-run.js";
import type { HopLag } from "./hop-lag.js";
import { idleLines } from "./idle-report.js";
import type { IdleResult } from "./idle-run.js";
import { type LadderTargets, ladderDerive, ladderLines } from "./ladder-report.js";
import type { RateResult } from "./nats-baselines.js";
import type { BaselineResult, Skipped } from "./results.js";
import { routersLines } from "./routers-report.js";
import type { RoutersResult } from "./routers-run.js";
import { scaleLines } from "./scale-report.js";
import type { ScaleResult } from "./scale-run.js";
import { type SoakResult, soakLines } from "./soak-report.js";
import { ratio } from "./stats.js";
import { stormLines } from "./storm-report.js";
import type { StormResult } from "./storm-run.js";
import type { TracingResult } from "./tracing-run.js";

/** Durable JetStream writes Herald makes per user message when nothing is batched. */
export const DURABLE_WRITES_PER_MESSAGE = 3;
export const DURABLE_WRITES_EXPLAINED = [
  "1 mailbox publish (<p>.send.user.<u>, stored by the mailbox stream as <p>.mbox.<u>, Nats-Msg-Id dedup, RePublish to <p>.live.<u>) by the backend",
  "1 ack publish (<p>.ack.<u>, work queue) by the connector for the client's ack frame",
  "1 cursor compare-and-set (KV put = a write to the KV_<P>_cursors stream) by persistence",
  "acks and cursor writes can be batched (several ids per ack frame / per cursor update), so the measured count " +
    "(herald.throughput.durableWrites.perMessage) can be below 3; the ceiling uses the unbatched 3",
].join("; ");

export const P99_TARGET_MS = 20;

export type NatsResults = {
  jetStreamPublish: RateResult;
  jetStreamPublishNoDedup: RateResult;
  /** With msg id, through `JsPublisher` (absent in results from before it was measured). */
  jetStreamPublishPipelined?: RateResult;
  core: RateResult;
};
type Part<T> = T | Skipped;
/** Tracing on may cost at most 10 % of the throughput. */
export const TRACING_BUDGET = 0.9;
export const ok = <T extends object>(part: Part<T> | undefined): T | undefined =>
  part && !("skipped" in part) ? (part as T) : undefined;

export type BenchResults = {
  version: 1;
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  command: string;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  nats: Part<NatsResults>;
  herald: Part<HeraldResult>;
  /** Tracing off vs on (100 % sampling) in the same run; absent in results written before it existed. */
  tracing?: Part<TracingResult>;
  /** WebSocket compression off vs on at two payload sizes; absent in results written before it existed. */
  compression?: Part<CompressionResult>;
  ws: Part<BaselineResult>;
  socketio: Part<BaselineResult>;
  /** RSS per idle connection of each system; absent in results written before it existed. */
  idle?: Part<IdleResult>;
  /** Router throughput and CPU per write with 1, 2 and 3 replicas; absent in results written before it existed. */
  routers?: Part<RoutersResult>;
  /** `--scale-connections` over several connectors (absent before it existed). */
  scale?: Part<ScaleResult>;
  /** `--storm-clients` of a killed connector reconnecting (absent before it existed). */
  storm?: Part<StormResult>;
  /** Memory of every process over a long run under load; absent in results written before it existed. */
  soak?: Part<SoakResult>;
  ceiling: {
    rawJetStreamMsgsPerSec: number | null;
    durableWritesPerMessage: number;
    explanation: string;
    heraldCeilingMsgsPerSec: number | null;
    /**
     * cores × 1 s ÷ the CPU time Herald's processes (nats-server and the four services, not the load generator)
     * spent per message: the rate at which Herald alone would fill every core. Unlike the wall-clock rate it
     * does not move when other work shares the machine.
     */
    heraldCpuBoundMsgsPerSec: number | null;
  };
  ratios: Record<string, number | null>;
  targets: {
    throughput: { targetMsgsPerSec: number | null; actualMsgsPerSec: number | null; met: boolean | null };
    p99: {
      targetMs: number;
      actualMs: number | null;
      offeredRate: number | null;
      met: boolean | null;
      /** The highest offered rate of the run (main and `--latency-rates`) whose p99 met the target. */
      highestRateWithinTarget: number | null;
    };
    /** Issue 14's targets from the offered-load ladders; absent in results from before them. */
    ladder?: LadderTargets;
  };
  notes: string[];
};

export type Parts = {
  nats: Part<NatsResults>;
  herald: Part<HeraldResult>;
  tracing?: Part<TracingResult>;
  compression?: Part<CompressionResult>;
  ws: Part<BaselineResult>;
  socketio: Part<BaselineResult>;
  idle?: Part<IdleResult>;
  routers?: Part<RoutersResult>;
  scale?: Part<ScaleResult>;
  /** `--storm-clients` of a killed connector reconnecting (absent before it existed). */
  storm?: Part<StormResult>;
  soak?: Part<SoakResult>;
};

/** Derives the ceiling, the ratios and the target verdicts from the measured parts. */
const HERALD_PROCESSES = ["nats-server", "connector", "router", "persistence", "presence"];

/** See `heraldCpuBoundMsgsPerSec`. */
export function cpuBoundRate(
  cpuMicrosPerMessage: Record<string, number> | undefined,
  cores: number,
): number | null {
  if (!cpuMicrosPerMessage) return null;
  const micros = HERALD_PROCESSES.reduce((sum, name) => sum + (cpuMicrosPerMessage[name] ?? 0), 0);
  return micros > 0 ? Math.round((cores * 1e6) / micros) : null;
}

export function derive(parts: Parts, cores = 2): Pick<BenchResults, "ceiling" | "ratios" | "targets"> {
  const nats = ok(parts.nats);
  const herald = ok(parts.herald);
  const ws = ok(parts.ws);
  const sio = ok(parts.socketio);
  const raw = nats?.jetStreamPublish.msgsPerSec;
  const ceiling = raw === undefined ? null : Math.round(raw / DURABLE_WRITES_PER_MESSAGE);
  const heraldRate = herald?.throughput.msgsPerSec;
  const p99 = herald?.latency.latencyMs.p99;
  const ladder = ladderDerive({ herald, ws, sio });
  return {
    ceiling: {
      rawJetStreamMsgsPerSec: raw ?? null,
      durableWritesPerMessage: DURABLE_WRITES_PER_MESSAGE,
      explanation: DURABLE_WRITES_EXPLAINED,
      heraldCeilingMsgsPerSec: ceiling,
      heraldCpuBoundMsgsPerSec: cpuBoundRate(herald?.throughput.cpuMicrosPerMessage, cores),
    },
    ratios: {
      heraldVsCeiling: ratio(heraldRate, ceiling ?? undefined),
      heraldCpuBoundVsCeiling: ratio(
        cpuBoundRate(herald?.throughput.cpuMicrosPerMessage, cores) ?? undefined,
        ceiling ?? undefined,
      ),
      // The same ceiling with the writes actually counted per message (acks and cursor updates batch).
      heraldVsCeilingAtMeasuredWrites: ratio(
        heraldRate,
        raw === undefined || !herald ? undefined : raw / herald.throughput.durableWrites.perMessage,
      ),
      heraldBurstVsCeiling: ratio(herald?.burst?.msgsPerSec, ceiling ?? undefined),
      // The ceiling taken from the pipelined publisher's rate (the server's capacity, less client overhead).
      heraldVsPipelinedCeiling: ratio(
        heraldRate,
        nats?.jetStreamPublishPipelined
          ? nats.jetStreamPublishPipelined.msgsPerSec / DURABLE_WRITES_PER_MESSAGE
          : undefined,
      ),
      heraldVsRawJetStream: ratio(heraldRate, raw),
      heraldVsRawWs: ratio(heraldRate, ws?.throughput.msgsPerSec),
      heraldVsSocketIo: ratio(heraldRate, sio?.throughput.msgsPerSec),
      socketIoVsRawWs: ratio(sio?.throughput.msgsPerSec, ws?.throughput.msgsPerSec),
      rawJetStreamVsCoreNats: ratio(raw, nats?.core.msgsPerSec),
      heraldP99VsRawWsP99: ratio(p99, ws?.latency.latencyMs.p99),
      heraldP99VsSocketIoP99: ratio(p99, sio?.latency.latencyMs.p99),
      heraldRssPerConnVsRawWs: ratio(herald?.memory.perConnectionBytes, ws?.memory.perConnectionBytes),
      // Share of the machine's CPU that other work took during Herald's saturation run: above ~0.2 the
      // wall-clock figures (and so the ratios) say more about the neighbours than about Herald.
      otherCpuShareDuringHerald: ratio(
        herald?.throughput.cpuSeconds.otherProcesses,
        herald ? (herald.throughput.elapsedMs / 1000) * cores : undefined,
      ),
      ...ladder.ratios,
    },
    targets: {
      throughput: {
        targetMsgsPerSec: ceiling === null ? null : Math.round(ceiling / 2),
        actualMsgsPerSec: heraldRate ?? null,
        met:
          ceiling === null || heraldRate === undefined
            ? null
            : heraldRate >= ceiling / 2 && Boolean(herald?.throughput.complete),
      },
      p99: {
        targetMs: P99_TARGET_MS,
        actualMs: p99 ?? null,
        offeredRate: herald?.latency.offeredRate ?? null,
        met:
          p99 === undefined
            ? null
            : p99 <= P99_TARGET_MS && herald?.latency.delivered === herald?.latency.messages,
        highestRateWithinTarget: highestRateWithin(herald),
      },
      ladder: ladder.targets,
    },
  };
}

/** Latency runs of a Herald part, by offered rate (results from before the sweep have only the main one). */
export function latencyRuns(herald: HeraldResult): HeraldResult["latency"][] {
  return [...(herald.latencyByRate ?? []), herald.latency].sort((a, b) => a.offeredRate - b.offeredRate);
}

function highestRateWithin(herald: HeraldResult | undefined): number | null {
  if (!herald) return null;
  const within = latencyRuns(herald).filter(
    (run) => run.latencyMs.p99 <= P99_TARGET_MS && run.delivered === run.messages,
  );
  return within.length === 0 ? null : Math.max(...within.map((run) => run.offeredRate));
}

const cell = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || !Number.isFinite(value) ? "-" : value.toFixed(digits);

/** `name µs, name µs, ...` of a per-process figure. */
const byProcess = (micros: Record<string, number>) =>
  Object.entries(micros)
    .map(([name, us]) => `${name} ${us}`)
    .join(", ");

/** Where a latency run's time went, split where the intake stream stored each message; none in old results. */
function stageLine(run: HeraldResult["latency"]): string[] {
  if (!run.stages) return [];
  const { publishToStoredMs: a, storedToReceivedMs: b } = run.stages;
  return [
    `Herald latency at ${run.offeredRate} msg/s, split where the intake stream stored each message (±1 ms): ` +
      `publish → stored p50 ${cell(a.p50, 1)} / p99 ${cell(a.p99, 1)} ms; stored → received p50 ${cell(b.p50, 1)} / p99 ${cell(b.p99, 1)} ms`,
  ];
}

/** The lag after the intake store at the router and at the connector, from their histograms; none in old results. */
function hopLine(run: HeraldResult["latency"]): string[] {
  const { intakeToRouter: router, intakeToConnector: connector } = run.hops ?? {};
  if (!router && !connector) return [];
  const hop = (label: string, lag: HopLag | undefined) =>
    lag
      ? `${label} p50 ≤ ${cell(lag.p50AtMostMs, 1)} / p99 ≤ ${cell(lag.p99AtMostMs, 1)} ms (${cell(lag.within20Ms * 100, 1)}% within 20 ms)`
      : `${label} -`;
  return [
    `Herald hops at ${run.offeredRate} msg/s, after the intake store (the services' lag histograms, bucket edges): ` +
      `${hop("→ router", router)}; ${hop("→ connector", connector)}`,
  ];
}

const HEADER = [
  "system",
  "msg/s",
  "delivered",
  "achieved@rate",
  "p50 ms",
  "p90 ms",
  "p99 ms",
  "max ms",
  "RSS/conn B",
];

/** The systems' rows: Herald, raw ws, Socket.IO, then the NATS figures they are compared with. */
function systemRows(results: BenchResults): string[][] {
  const rows: string[][] = [];
  const system = (name: string, r: BaselineResult | HeraldResult | undefined, skipped?: Part<object>) => {
    if (!r) {
      rows.push([name, skipped && "skipped" in skipped ? `skipped: ${skipped.skipped}` : "-"]);
      return;
    }
    const l = r.latency.latencyMs;
    rows.push([
      name,
      cell(r.throughput.msgsPerSec),
      `${r.throughput.delivered}/${r.throughput.messages}`,
      cell(r.latency.achievedMsgsPerSec),
      cell(l.p50, 2),
      cell(l.p90, 2),
      cell(l.p99, 2),
      cell(l.max, 2),
      cell(r.memory.perConnectionBytes),
    ]);
  };
  const herald = ok(results.herald);
  system("Herald (durable, acked)", herald, results.herald);
  if (herald?.burst)
    rows.push([
      "Herald burst (all at once)",
      cell(herald.burst.msgsPerSec),
      `${herald.burst.delivered}/${herald.burst.messages}`,
    ]);
  system("raw ws", ok(results.ws), results.ws);
  system("Socket.IO + Redis Streams", ok(results.socketio), results.socketio);
  const nats = ok(results.nats);
  if (nats) {
    rows.push(["JetStream publish (msg id)", cell(nats.jetStreamPublish.msgsPerSec)]);
    rows.push(["JetStream publish (no id)", cell(nats.jetStreamPublishNoDedup.msgsPerSec)]);
    if (nats.jetStreamPublishPipelined)
      rows.push(["JetStream publish (id, pipelined)", cell(nats.jetStreamPublishPipelined.msgsPerSec)]);
    rows.push(["core NATS pub→sub", cell(nats.core.msgsPerSec)]);
    rows.push([
      `ceiling = JetStream / ${DURABLE_WRITES_PER_MESSAGE}`,
      cell(results.ceiling.heraldCeilingMsgsPerSec),
    ]);
  }
  return rows;
}

/** `rows` under `HEADER`, columns aligned (a row of two cells: a name and one figure). */
function table(rows: string[][]): string[] {
  const full = rows.filter((r) => r.length > 2);
  const widths = HEADER.map((h, i) =>
    Math.max(
      h.length,
      ...(i === 0 ? rows : full).map((r) => (i === 0 ? (r[0] ?? "").length : (r[i] ?? "").length)),
    ),
  );
  const line = (r: string[]) =>
    r.length <= 2
      ? `${(r[0] ?? "").padEnd(widths[0] ?? 0)}  ${(r[1] ?? "").padStart(widths[1] ?? 0)}`
      : r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(HEADER), ...rows.map(line)];
}

const verdict = (met: boolean | null) => (met === null ? "n/a" : met ? "MET" : "MISSED");

/** Herald against its ceiling and targets, and where its CPU and latency went. */
function heraldLines(results: BenchResults): string[] {
  const herald = ok(results.herald);
  const nats = ok(results.nats);
  const t = results.targets;
  return [
    `Herald / ceiling: ${cell(results.ratios.heraldVsCeiling, 3)}  (target ≥ 0.5: ${cell(t.throughput.actualMsgsPerSec)} vs ${cell(t.throughput.targetMsgsPerSec)} msg/s, ${verdict(t.throughput.met)}; ${herald ? `${herald.throughput.inflight} in flight` : "-"})`,
    `Herald / ceiling at the measured ${cell(herald?.throughput.durableWrites.perMessage, 2)} writes per message: ${cell(results.ratios.heraldVsCeilingAtMeasuredWrites, 3)}; burst / ceiling: ${cell(results.ratios.heraldBurstVsCeiling, 3)}; Herald / (pipelined JetStream / ${DURABLE_WRITES_PER_MESSAGE}): ${cell(results.ratios.heraldVsPipelinedCeiling, 3)}`,
    `Herald CPU-bound rate (${String(results.machine.cpus)} cores ÷ CPU per message of nats-server + services): ${cell(results.ceiling.heraldCpuBoundMsgsPerSec)} msg/s = ${cell(results.ratios.heraldCpuBoundVsCeiling, 3)} × ceiling`,
    `Herald p99 at ${cell(t.p99.offeredRate)} msg/s: ${cell(t.p99.actualMs, 2)} ms (target ≤ ${t.p99.targetMs} ms, ${verdict(t.p99.met)})`,
    ...(herald
      ? [
          `Herald p99 by offered rate: ${latencyRuns(herald)
            .map(
              (run) =>
                `${run.offeredRate} → ${cell(run.latencyMs.p99, 1)} ms (${cell(run.machineBusyCores, 2)} cores busy)`,
            )
            .join(", ")}; within ${t.p99.targetMs} ms up to ${cell(t.p99.highestRateWithinTarget)} msg/s`,
          `CPU seconds used by other processes during Herald's saturation run: ${herald.throughput.cpuSeconds.otherProcesses} ` +
            `(of ${Math.round((herald.throughput.elapsedMs / 1000) * Number(results.machine.cpus ?? 0) * 10) / 10} available)`,
          `Herald CPU per message (µs): ${byProcess(herald.throughput.cpuMicrosPerMessage)}; durable writes per message ${herald.throughput.durableWrites.perMessage}`,
          `At ${herald.latency.offeredRate} msg/s: ${herald.latency.machineBusyCores} of ${String(results.machine.cpus)} cores busy; CPU per message (µs): ${byProcess(herald.latency.cpuMicrosPerMessage)}`,
          ...latencyRuns(herald).flatMap((run) => [...stageLine(run), ...hopLine(run)]),
        ]
      : []),
    ...(nats?.jetStreamPublish.cpuMicrosPerMessage
      ? [
          `nats-server CPU per raw JetStream publish (msg id): ${nats.jetStreamPublish.cpuMicrosPerMessage["nats-server"]} µs` +
            ` (× ${DURABLE_WRITES_PER_MESSAGE} = ${(nats.jetStreamPublish.cpuMicrosPerMessage["nats-server"] ?? 0) * DURABLE_WRITES_PER_MESSAGE} µs)`,
        ]
      : []),
  ];
}

/** The load each system's part ran under, a warning when other work took the CPU, and the ratios. */
function footerLines(results: BenchResults): string[] {
  const loads = (
    [
      ["herald", ok(results.herald)],
      ["ws", ok(results.ws)],
      ["socket.io", ok(results.socketio)],
    ] as const
  ).flatMap(([name, r]) => (r ? [`${name} ${r.loadAverage.join(" → ")}`] : []));
  const share = results.ratios.otherCpuShareDuringHerald;
  return [
    `1-minute load average (start → end of each part): ${loads.join(", ")}`,
    ...(share !== null && share !== undefined && share > 0.2
      ? [
          `WARNING: other processes took ${Math.round(share * 100)}% of the CPU during Herald's run: rerun on a quiet machine.`,
        ]
      : []),
    `Herald / raw ws: ${cell(results.ratios.heraldVsRawWs, 3)}   Herald / Socket.IO: ${cell(results.ratios.heraldVsSocketIo, 3)}   Herald / raw JetStream: ${cell(results.ratios.heraldVsRawJetStream, 3)}`,
  ];
}

/** The summary printed at the end of a run. */
export function summaryTable(results: BenchResults): string {
  return [
    ...table(systemRows(results)),
    "",
    ...heraldLines(results),
    ...tracingLines(ok(results.tracing)),
    ...compressionLines(ok(results.compression)),
    ...idleLines(ok(results.idle)),
    ...ladderLines({ herald: ok(results.herald), ws: ok(results.ws), sio: ok(results.socketio) }, results),
    ...routersLines(ok(results.routers)),
    ...scaleLines(ok(results.scale)),
    ...stormLines(ok(results.storm)),
    ...soakLines(ok(results.soak)),
    ...footerLines(results),
  ].join("\n");
}

/** The tracing part: for each way in, each round, then the on ÷ off ratios against the 10 % budget. */
export function tracingLines(tracing: TracingResult | undefined): string[] {
  if (!tracing) return [];
  return tracing.paths.flatMap((p) => {
    const rounds = p.rounds
      .map(
        (r) =>
          `${r.tracing} ${cell(r.msgsPerSec)} msg/s, ${cell(r.cpuMicrosPerMessage.total)} µs (load ${r.loadAverage})`,
      )
      .join("; ");
    return [
      `Tracing, ${p.path === "user" ? "send.user" : "send.users via the router"} (100 % sampled, OTLP to a draining, discarding sink process): ${rounds}`,
      `Tracing on / off (${p.path}): throughput ${cell(p.throughputRatio, 3)} (budget ≥ ${TRACING_BUDGET}), service CPU per message ${cell(p.cpuRatio, 3)}, whole loop's CPU per message ${cell(p.loopCpuRatio, 3)}`,
    ];
  });
}
