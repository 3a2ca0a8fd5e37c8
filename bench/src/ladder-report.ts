// Issue 14's comparison from the offered-load ladders of one run: the highest rate each system delivered with
// nothing lost, p99 at 5,000 and 10,000 msg/s, and Herald's ratios to Socket.IO and raw ws.
import type { HeraldResult } from "./herald-run.js";
import { bestHighest, type LadderResult, passingP99At, stepAt } from "./ladder.js";
import type { BaselineResult } from "./results.js";
import { ratio } from "./stats.js";

/** Herald's p99 targets on the ladder (issue 14): offered rate → p99 bound. */
export const LADDER_P99_TARGETS = [
  { offeredRate: 5_000, targetMs: 5 },
  { offeredRate: 10_000, targetMs: 10 },
] as const;
/** Herald's highest lossless rate ≥ this × Socket.IO's (the aim is 1.5). */
export const LOSSLESS_TARGET_RATIO = 1;
export const LOSSLESS_AIM_RATIO = 1.5;

export type LadderTargets = {
  lossless: {
    /** Socket.IO's highest lossless rate in this run (its best sender) × the target ratio. */
    targetMsgsPerSec: number | null;
    aimMsgsPerSec: number | null;
    actualMsgsPerSec: number | null;
    met: boolean | null;
  };
  p99: { offeredRate: number; targetMs: number; actualMs: number | null; met: boolean | null }[];
};

type Systems = {
  herald?: HeraldResult | undefined;
  ws?: BaselineResult | undefined;
  sio?: BaselineResult | undefined;
};

/** Socket.IO's best ladder: the sender (emitter process, or server 0) that went highest; the emitter on ties. */
export function socketIoBest(
  sio: BaselineResult | undefined,
): { name: string; ladder: LadderResult } | undefined {
  if (!sio?.ladder) return undefined;
  let best = { name: "emitter process", ladder: sio.ladder };
  for (const [name, ladder] of Object.entries(sio.ladderAlternatives ?? {})) {
    if ((ladder.highestPassingRate ?? -1) > (best.ladder.highestPassingRate ?? -1)) best = { name, ladder };
  }
  return best;
}

/** The ladder ratios (`ratios.*Lossless`, `*P99At<rate>`) and the issue's targets; null where not measured. */
export function ladderDerive({ herald, ws, sio }: Systems): {
  ratios: Record<string, number | null>;
  targets: LadderTargets;
} {
  const heraldTop = herald?.ladder?.highestPassingRate ?? undefined;
  const sioBest = socketIoBest(sio);
  const sioTop = bestHighest([sio?.ladder, ...Object.values(sio?.ladderAlternatives ?? {})]) ?? undefined;
  const wsTop = ws?.ladder?.highestPassingRate ?? undefined;
  const ratios: Record<string, number | null> = {
    heraldVsSocketIoLossless: ratio(heraldTop, sioTop),
    heraldVsRawWsLossless: ratio(heraldTop, wsTop),
    socketIoVsRawWsLossless: ratio(sioTop, wsTop),
    // Socket.IO's emitter process against server 0 emitting itself: which of its setups is faster here.
    socketIoEmitterVsServerEmitsLossless: ratio(
      sio?.ladder?.highestPassingRate ?? undefined,
      sio?.ladderAlternatives?.["server 0 emits"]?.highestPassingRate ?? undefined,
    ),
  };
  for (const { offeredRate } of LADDER_P99_TARGETS) {
    const heraldP99 = passingP99At(herald?.ladder, offeredRate) ?? undefined;
    ratios[`heraldP99VsSocketIoP99At${offeredRate}`] = ratio(
      heraldP99,
      passingP99At(sioBest?.ladder, offeredRate) ?? undefined,
    );
    ratios[`heraldP99VsRawWsP99At${offeredRate}`] = ratio(
      heraldP99,
      passingP99At(ws?.ladder, offeredRate) ?? undefined,
    );
    // CPU per message of each system's own processes at that step, passed or not: holds on a busy machine.
    const heraldCpu = systemCpuAt(herald?.ladder, offeredRate);
    ratios[`heraldCpuVsSocketIoCpuAt${offeredRate}`] = ratio(
      heraldCpu,
      systemCpuAt(sioBest?.ladder, offeredRate),
    );
    ratios[`heraldCpuVsRawWsCpuAt${offeredRate}`] = ratio(heraldCpu, systemCpuAt(ws?.ladder, offeredRate));
  }
  const target = sioTop === undefined ? null : sioTop * LOSSLESS_TARGET_RATIO;
  return {
    ratios,
    targets: {
      lossless: {
        targetMsgsPerSec: target,
        aimMsgsPerSec: sioTop === undefined ? null : sioTop * LOSSLESS_AIM_RATIO,
        actualMsgsPerSec: herald?.ladder ? (heraldTop ?? 0) : null,
        met: target === null || !herald?.ladder ? null : (heraldTop ?? 0) >= target,
      },
      p99: LADDER_P99_TARGETS.map(({ offeredRate, targetMs }) => {
        const step = stepAt(herald?.ladder, offeredRate);
        const actualMs = step?.pass ? step.latencyMs.p99 : null;
        // A step that lost or lagged misses the target whatever its p99, and so does a climb that ended below
        // the rate; a ladder without the rate has no verdict.
        const reached = herald?.ladder?.rates.includes(offeredRate) ?? false;
        const met = !reached ? null : actualMs !== null && actualMs <= targetMs;
        return { offeredRate, targetMs, actualMs, met };
      }),
    },
  };
}

/** CPU µs per message of a system's own processes at `rate` (see `stepAt`); undefined if not measured. */
export function systemCpuAt(ladder: LadderResult | undefined, rate: number): number | undefined {
  return stepAt(ladder, rate)?.cpuMicrosPerMessage?.system;
}

const fmt = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);

/** One line per ladder: each step's rate, verdict and p50/p99, then its highest passing rate. */
function ladderLine(name: string, ladder: LadderResult | undefined): string[] {
  if (!ladder) return [];
  const steps = ladder.steps
    .map(
      (s) =>
        `${s.offeredRate}${s.attempt > 1 ? "(2)" : ""} ${s.pass ? "ok" : "FAIL"} ${fmt(s.latencyMs.p50, 1)}/${fmt(s.latencyMs.p99, 1)}`,
    )
    .join(", ");
  return [
    `  ${name}: highest lossless ${fmt(ladder.highestPassingRate)} msg/s; rate ok|FAIL p50/p99 ms: ${steps}`,
  ];
}

/** The ladder section of the summary printed at the end of a run (nothing when no ladder ran). */
export function ladderLines(
  systems: Systems,
  derived: { ratios: Record<string, number | null>; targets: { ladder?: LadderTargets } },
): string[] {
  const { herald, ws, sio } = systems;
  const lines = [
    ...ladderLine("Herald (delivered and acked)", herald?.ladder),
    ...ladderLine("Socket.IO, emitter process", sio?.ladder),
    ...Object.entries(sio?.ladderAlternatives ?? {}).flatMap(([name, l]) =>
      ladderLine(`Socket.IO, ${name}`, l),
    ),
    ...ladderLine("raw ws", ws?.ladder),
  ];
  if (lines.length === 0) return [];
  const first = herald?.ladder ?? sio?.ladder ?? ws?.ladder;
  return [
    `Offered-load ladder (open loop, ${fmt((first?.stepMs ?? 0) / 1000)} s per step; a step passes when every message ` +
      `is delivered (Herald: and acked) no later than ${fmt(first?.drainBoundMs)} ms after the step; a failed rate is tried twice):`,
    ...lines,
    ...ladderVerdicts(systems, derived),
  ];
}

/** The ladder's ratios and target verdicts, one line each (the summary's and the chart's); none without ladders. */
export function ladderVerdicts(
  { herald, ws, sio }: Systems,
  derived: { ratios: Record<string, number | null>; targets: { ladder?: LadderTargets } },
): string[] {
  if (!herald?.ladder && !sio?.ladder && !ws?.ladder) return [];
  const t = derived.targets.ladder;
  const r = derived.ratios;
  const verdict = (met: boolean | null | undefined) => (met == null ? "n/a" : met ? "MET" : "MISSED");
  const sioBest = socketIoBest(sio)?.ladder;
  return [
    `Highest lossless rate: Herald / Socket.IO ${fmt(r.heraldVsSocketIoLossless, 3)} (target ≥ ${LOSSLESS_TARGET_RATIO}: ${verdict(t?.lossless.met)}), ` +
      `Herald / raw ws ${fmt(r.heraldVsRawWsLossless, 3)}, Socket.IO emitter / server 0 emits ${fmt(r.socketIoEmitterVsServerEmitsLossless, 3)}`,
    ...(t?.p99 ?? []).map(
      (p) =>
        `Herald p99 at ${p.offeredRate} msg/s on the ladder: ${fmt(p.actualMs, 2)} ms (target ≤ ${p.targetMs} ms: ${verdict(p.met)}); ` +
        `÷ Socket.IO ${fmt(r[`heraldP99VsSocketIoP99At${p.offeredRate}`], 2)}, ÷ raw ws ${fmt(r[`heraldP99VsRawWsP99At${p.offeredRate}`], 2)}`,
    ),
    ...(t?.p99 ?? []).map(
      ({ offeredRate: rate }) =>
        `CPU µs per message of each system's own processes at ${rate} msg/s: Herald ${fmt(systemCpuAt(herald?.ladder, rate))}, ` +
        `Socket.IO ${fmt(systemCpuAt(sioBest, rate))}, raw ws ${fmt(systemCpuAt(ws?.ladder, rate))}; ` +
        `Herald ÷ Socket.IO ${fmt(r[`heraldCpuVsSocketIoCpuAt${rate}`], 2)}, ÷ raw ws ${fmt(r[`heraldCpuVsRawWsCpuAt${rate}`], 2)}`,
    ),
  ];
}

/** Chart bars: each system's highest lossless rate on the ladder (Socket.IO: each sender). */
export function ladderBars(
  { herald, ws, sio }: Systems,
  ratios: Record<string, number | null>,
): { label: string; value: number; note?: string; highlight?: boolean }[] {
  const bar = (label: string, ladder: LadderResult | undefined, note?: string | null, highlight = false) =>
    ladder
      ? [
          {
            label,
            value: ladder.highestPassingRate ?? 0,
            ...(ladder.highestPassingRate === null
              ? { note: `none: ${ladder.failedRate} msg/s failed` }
              : note
                ? { note }
                : {}),
            ...(highlight ? { highlight } : {}),
          },
        ]
      : [];
  const vsSio = ratios.heraldVsSocketIoLossless;
  return [
    ...bar(
      "Herald, highest lossless (acked)",
      herald?.ladder,
      vsSio === null ? null : `${vsSio}× Socket.IO`,
      true,
    ),
    ...bar("Socket.IO, lossless (emitter)", sio?.ladder),
    ...Object.entries(sio?.ladderAlternatives ?? {}).flatMap(([name, l]) =>
      bar(`Socket.IO, lossless (${name})`, l),
    ),
    ...bar("raw ws, highest lossless", ws?.ladder),
  ];
}

/** Chart latency groups: each system's p50/p90/p99 on the ladder at 5,000 and 10,000 msg/s (passing steps). */
export function ladderGroups({
  herald,
  ws,
  sio,
}: Systems): { label: string; p50: number; p90: number; p99: number }[] {
  const sioBest = socketIoBest(sio)?.ladder;
  return LADDER_P99_TARGETS.flatMap(({ offeredRate }) =>
    (
      [
        ["Herald", herald?.ladder],
        ["Socket.IO", sioBest],
        ["raw ws", ws?.ladder],
      ] as const
    ).flatMap(([name, ladder]) => {
      const step = stepAt(ladder, offeredRate);
      if (!step?.pass) return [];
      const { p50, p90, p99 } = step.latencyMs;
      return [{ label: `${name} @ ${offeredRate / 1000}k (ladder)`, p50, p90, p99 }];
    }),
  );
}

/** Chart notes: every step of every ladder (rate, p50/p99 ms, ✓ or ✗), a few steps per line so lines fit. */
export function ladderChartNotes({ herald, ws, sio }: Systems, stepsPerLine = 5): string[] {
  const ladders: [string, LadderResult | undefined][] = [
    ["Herald", herald?.ladder],
    ["Socket.IO (emitter)", sio?.ladder],
    ...Object.entries(sio?.ladderAlternatives ?? {}).map(
      ([name, l]) => [`Socket.IO (${name})`, l] as [string, LadderResult],
    ),
    ["raw ws", ws?.ladder],
  ];
  const lines: string[] = [];
  for (const [name, ladder] of ladders) {
    if (!ladder) continue;
    const cells = ladder.steps.map(
      (s) =>
        `${s.offeredRate / 1000}k${s.attempt > 1 ? "(2)" : ""} ${fmt(s.latencyMs.p50, 1)}/${fmt(s.latencyMs.p99, 1)} ${s.pass ? "✓" : "✗"}`,
    );
    for (let i = 0; i < cells.length; i += stepsPerLine) {
      const head = i === 0 ? `Ladder ${name}, p50/p99 ms: ` : "    ";
      lines.push(`${head}${cells.slice(i, i + stepsPerLine).join(", ")}`);
    }
  }
  return lines;
}
