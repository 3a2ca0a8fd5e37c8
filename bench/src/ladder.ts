// The offered-load ladder (issue 14): each system is offered increasing rates, open loop, a few seconds per
// step, and the highest rate it delivers in full without falling behind is its "highest rate delivered,
// nothing lost". The pass/fail logic is here, apart from the processes, so that it is tested on its own.
import type { LatencySummary } from "./stats.js";

/**
 * How late, after the scheduled end of a step, the last message may arrive (for Herald: be acked). A system of
 * capacity C offered R > C for T seconds ends with (R − C)·T queued, drained in (R/C − 1)·T: with 5 s steps a
 * 0.5 s bound passes a step only while R ≤ 1.1 C, and it is 25 × the 20 ms p99 target, so scheduling noise
 * does not fail a step that keeps up.
 */
export const LADDER_DRAIN_BOUND_MS = 500;

/** What one step measured. */
export type StepMeasure = {
  offeredRate: number;
  durationMs: number;
  /** Messages offered: rate × duration. */
  messages: number;
  /** Distinct messages the clients received. */
  delivered: number;
  duplicates: number;
  /** Acks applied (Herald only: persistence's counter); undefined where the system has no acks. */
  acked?: number;
  /** Publishes that failed (Herald: PubAck errors); 0 where the sender cannot fail. */
  publishErrors: number;
  /**
   * From the scheduled end of the step (start + duration) to the last delivery (and, for Herald, the ack
   * counter reaching `messages`); null if that never happened before the wait gave up. A sender that could
   * not keep the pace ends late, so this counts it too.
   */
  drainMs: number | null;
  /** Publish → receive of first deliveries. */
  latencyMs: LatencySummary;
  /**
   * CPU µs per message offered, from the step's start to the end of its wait, of each of the system's own
   * processes (servers, broker; not the load generator nor the publisher) and their sum (`system`): unlike
   * the rates, it says what a message costs even when other work shares the cores.
   */
  cpuMicrosPerMessage?: Record<string, number>;
};

export type LadderStep = StepMeasure & {
  /** 1, or 2 for the retry of a rate that failed once. */
  attempt: number;
  pass: boolean;
  /** Why the step failed (absent when it passed). */
  reason?: string;
};

export type LadderResult = {
  rates: number[];
  stepMs: number;
  drainBoundMs: number;
  steps: LadderStep[];
  /** The highest offered rate that passed, every lower rate having passed too; null if the first failed. */
  highestPassingRate: number | null;
  /** The rate that failed twice and ended the climb, or null if every rate passed. */
  failedRate: number | null;
};

/**
 * Pass: every message delivered (and acked, where acks exist), no publish error, the last one no later than
 * `drainBoundMs` after the step's scheduled end.
 *
 * @example
 * verdict({ ...measure, delivered: measure.messages - 1 }) // { pass: false, reason: "lost 1 of ..." }
 */
export function verdict(
  m: StepMeasure,
  drainBoundMs = LADDER_DRAIN_BOUND_MS,
): { pass: true } | { pass: false; reason: string } {
  if (m.delivered < m.messages)
    return { pass: false, reason: `lost ${m.messages - m.delivered} of ${m.messages}` };
  if (m.acked !== undefined && m.acked < m.messages)
    return { pass: false, reason: `${m.messages - m.acked} of ${m.messages} not acked` };
  if (m.publishErrors > 0) return { pass: false, reason: `${m.publishErrors} publish errors` };
  if (m.drainMs === null) return { pass: false, reason: "did not drain" };
  if (m.drainMs > drainBoundMs)
    return {
      pass: false,
      reason: `drained ${Math.round(m.drainMs)} ms after the step (bound ${drainBoundMs})`,
    };
  return { pass: true };
}

/**
 * Climbs `rates` (ascending): a rate that fails is tried once more (the machine is shared; one stall should
 * not end the climb), and a rate that fails twice ends it. `step(rate, attempt)` measures one step and must
 * leave the system drained (or given up on) before it returns.
 *
 * @example
 * const ladder = await climb([5_000, 10_000], (rate, attempt) => measureStep(rate, attempt));
 */
export async function climb(
  rates: number[],
  step: (rate: number, attempt: number) => Promise<StepMeasure>,
  options: { stepMs: number; drainBoundMs?: number; log?: (line: string) => void },
): Promise<LadderResult> {
  const drainBoundMs = options.drainBoundMs ?? LADDER_DRAIN_BOUND_MS;
  const steps: LadderStep[] = [];
  let highestPassingRate: number | null = null;
  for (const rate of rates) {
    let passed = false;
    for (let attempt = 1; attempt <= 2 && !passed; attempt++) {
      const measured = await step(rate, attempt);
      const v = verdict(measured, drainBoundMs);
      steps.push({ ...measured, attempt, pass: v.pass, ...(v.pass ? {} : { reason: v.reason }) });
      options.log?.(
        `${rate} msg/s (attempt ${attempt}): ${v.pass ? "pass" : `FAIL, ${v.reason}`}; ` +
          `p50 ${measured.latencyMs.p50} ms, p99 ${measured.latencyMs.p99} ms`,
      );
      passed = v.pass;
    }
    if (!passed)
      return { rates, stepMs: options.stepMs, drainBoundMs, steps, highestPassingRate, failedRate: rate };
    highestPassingRate = rate;
  }
  return { rates, stepMs: options.stepMs, drainBoundMs, steps, highestPassingRate, failedRate: null };
}

/** The passing step at `rate` (its latency), or the last attempt there if none passed; undefined if not run. */
export function stepAt(ladder: LadderResult | undefined, rate: number): LadderStep | undefined {
  const atRate = ladder?.steps.filter((s) => s.offeredRate === rate) ?? [];
  return atRate.find((s) => s.pass) ?? atRate.at(-1);
}

/** p99 at `rate` from a passing step only: a failed step's latency is queueing, not the system's. */
export function passingP99At(ladder: LadderResult | undefined, rate: number): number | null {
  const step = stepAt(ladder, rate);
  return step?.pass ? step.latencyMs.p99 : null;
}

/** The best of several ladders of one system (e.g. Socket.IO publishing from a server or from an emitter). */
export function bestHighest(ladders: (LadderResult | undefined)[]): number | null {
  const rates = ladders.flatMap((l) => (l?.highestPassingRate == null ? [] : [l.highestPassingRate]));
  return rates.length === 0 ? null : Math.max(...rates);
}
