import type { ClientPool } from "./client-pool.js";
import { nowUs, sleep } from "./clock.js";
import { climb, type LadderResult, type StepMeasure } from "./ladder.js";
import type { BenchOptions } from "./options.js";
import { paced } from "./pacing.js";
import { cpuMeter } from "./procfs.js";
import { summarizeLatencies } from "./stats.js";

/** Offers `rate` msg/s of phase `phase` for `durationMs`; `errors()` counts the sends that failed so far. */
export type Offer = (phase: number, rate: number, durationMs: number) => Promise<{ errors: () => number }>;

/** How long a step waits, after its scheduled end, for what is still missing: no progress for this long… */
const IDLE_MS = 2_000;
/** …or this long in all (a backlog that drains slower than this is not a figure worth the wait). */
const SETTLE_MS = 60_000;
const POLL_MS = 25;

/**
 * One step of the ladder against a connected client pool: offers the rate, then waits until every message is
 * delivered (and `acked()` reached the count, where given: a counter read before and after), or nothing moved
 * for 2 s, or 60 s passed. The next step starts from a drained system (or one given up on).
 */
export async function measureStep(
  pool: ClientPool,
  step: {
    phase: number;
    rate: number;
    stepMs: number;
    offer: Offer;
    acked?: () => Promise<number>;
    /** The system's own processes, by name, whose CPU per message is recorded. */
    processes?: Record<string, number | undefined>;
  },
): Promise<StepMeasure> {
  const messages = Math.round((step.rate * step.stepMs) / 1000);
  await pool.reset({ phase: step.phase, messages, recordLatencies: true });
  const ackBase = step.acked ? await step.acked() : 0;
  const cpu = step.processes ? await cpuMeter(step.processes) : undefined;
  const start = nowUs();
  const { errors } = await step.offer(step.phase, step.rate, step.stepMs);
  const scheduledEnd = start + step.stepMs * 1000;
  let delivered = await pool.stats();
  let acked = step.acked ? (await step.acked()) - ackBase : undefined;
  let ackedUs = acked !== undefined && acked >= messages ? nowUs() : undefined;
  let lastChange = nowUs();
  const done = () => delivered.unique >= messages && (acked === undefined || acked >= messages);
  while (!done() && nowUs() - lastChange < IDLE_MS * 1000 && nowUs() - scheduledEnd < SETTLE_MS * 1000) {
    await sleep(POLL_MS);
    const now = await pool.stats();
    const ackNow = step.acked ? (await step.acked()) - ackBase : undefined;
    if (now.unique !== delivered.unique || ackNow !== acked) lastChange = nowUs();
    if (ackNow !== undefined && ackNow >= messages && ackedUs === undefined) ackedUs = nowUs();
    delivered = now;
    acked = ackNow;
  }
  const cpuSeconds = cpu ? await cpu() : undefined;
  const withLatencies = await pool.stats(true);
  const lastUs = Math.max(delivered.lastUs, ackedUs ?? 0);
  return {
    offeredRate: step.rate,
    durationMs: step.stepMs,
    messages,
    delivered: delivered.unique,
    duplicates: delivered.duplicates,
    ...(acked === undefined ? {} : { acked }),
    publishErrors: errors(),
    drainMs: done() ? Math.max(0, Math.round((lastUs - scheduledEnd) / 100) / 10) : null,
    latencyMs: summarizeLatencies(withLatencies.latencies),
    ...(cpuSeconds && step.processes
      ? { cpuMicrosPerMessage: perMessage(cpuSeconds, Object.keys(step.processes), messages) }
      : {}),
  };
}

/** µs per message of each named process and of their sum (`system`); the meter's other entries are left out. */
export function perMessage(
  cpuSeconds: Record<string, number>,
  names: string[],
  messages: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  let system = 0;
  for (const name of names) {
    const seconds = cpuSeconds[name];
    if (seconds === undefined || !Number.isFinite(seconds)) continue;
    out[name] = Math.round((seconds * 1e6) / messages);
    system += seconds;
  }
  out.system = Math.round((system * 1e6) / messages);
  return out;
}

/** What a ladder sends with, and what else a step reads: acks (Herald) and the system's processes for CPU. */
export type LadderSender = {
  offer: Offer;
  acked?: () => Promise<number>;
  processes?: Record<string, number | undefined>;
};

/**
 * Climbs `o.ladderRates` (`o.ladderSeconds` per step) against a connected pool with one sender. Every step has
 * a phase of its own, taken from `phases.next` up, so that a late message of an earlier step is never counted.
 */
export function climbWith(
  pool: ClientPool,
  o: BenchOptions,
  sender: LadderSender,
  phases: { next: number },
  log: (line: string) => void,
): Promise<LadderResult> {
  const stepMs = o.ladderSeconds * 1000;
  return climb(
    o.ladderRates,
    (rate) => measureStep(pool, { ...sender, phase: phases.next++, rate, stepMs }),
    {
      stepMs,
      log,
    },
  );
}

/** An `Offer` that paces `send(phase, i)` calls in this process and counts the ones whose promise rejects. */
export function pacedOffer(send: (phase: number, i: number) => Promise<unknown>): Offer {
  return async (phase, rate, durationMs) => {
    let errors = 0;
    await paced(rate, durationMs, (i) => {
      send(phase, i).catch(() => {
        errors++;
      });
    });
    return { errors: () => errors };
  };
}
