import type { Backend } from "./backend.js";
import type { Fleet } from "./fleet.js";

export type RecoveryReport = {
  /** Messages the apps had handled when the kills happened. */
  deliveredAtKill: number;
  /** Users that still had messages coming at the kills (the others cannot show a resume). */
  usersPending: number;
  /** From the kills until every pending user's app handled a new message. */
  allUsersResumedMs: number;
  /** Median of the same, per user. */
  medianUserResumedMs: number;
  /** Longest time after the kills in which no app handled anything. */
  longestStallMs: number;
  /** Handled messages per second before the kills (from the first delivery). */
  rateBefore: number;
  /** From the kills until a 1 s window handled at least half of `rateBefore` again. */
  rateRecoveredMs: number | undefined;
  /** From the kills until every message was handled. */
  allDeliveredMs: number | undefined;
};

type Sample = { at: number; total: number };

/**
 * Samples the fleet's handled counts every `intervalMs` (times are this resolution), so the test can say how
 * long the kills interrupted delivery: overall, per user, and until the rate came back.
 */
export function recordRecovery(fleet: Fleet, expectedTotal: number, intervalMs = 50) {
  const samples: Sample[] = [];
  let killAt: number | undefined;
  let lengthsAtKill = new Map<string, number>();
  const resumedAt = new Map<string, number>();
  let doneAt: number | undefined;
  let firstDelivery: number | undefined;

  const sample = () => {
    const at = Date.now();
    let total = 0;
    for (const [user, ids] of fleet.handled) {
      total += ids.length;
      if (killAt !== undefined && !resumedAt.has(user) && ids.length > (lengthsAtKill.get(user) ?? 0)) {
        resumedAt.set(user, at);
      }
    }
    if (firstDelivery === undefined && total > 0) firstDelivery = at;
    // Distinct ids only: a repeat must not count as a delivery (the test asserts there are none).
    if (
      doneAt === undefined &&
      killAt !== undefined &&
      total >= expectedTotal &&
      distinct() >= expectedTotal
    ) {
      doneAt = at;
    }
    samples.push({ at, total });
  };
  const distinct = () => [...fleet.handled.values()].reduce((sum, ids) => sum + new Set(ids).size, 0);
  const timer = setInterval(sample, intervalMs);

  return {
    /** Call right before the kills. */
    markKill(): void {
      sample();
      killAt = Date.now();
      lengthsAtKill = new Map([...fleet.handled].map(([user, ids]) => [user, ids.length]));
    },
    stop(): void {
      clearInterval(timer);
      sample();
    },
    report(perUser: number): RecoveryReport {
      if (killAt === undefined) throw new Error("markKill was not called");
      const kill = killAt;
      const before = samples.filter((s) => s.at <= kill);
      const after = samples.filter((s) => s.at > kill);
      const deliveredAtKill = before.at(-1)?.total ?? 0;
      const pending = [...lengthsAtKill].filter(([, n]) => n < perUser).map(([user]) => user);
      const resumes = pending.map((user) => (resumedAt.get(user) ?? Number.POSITIVE_INFINITY) - kill);
      resumes.sort((a, b) => a - b);
      const rateBefore =
        firstDelivery === undefined || kill <= firstDelivery
          ? 0
          : (deliveredAtKill * 1_000) / (kill - firstDelivery);
      return {
        deliveredAtKill,
        usersPending: pending.length,
        allUsersResumedMs: resumes.at(-1) ?? 0,
        medianUserResumedMs: resumes[Math.floor(resumes.length / 2)] ?? 0,
        longestStallMs: longestStall(after, kill, deliveredAtKill, doneAt),
        rateBefore: Math.round(rateBefore),
        rateRecoveredMs: rateRecovered(samples, after, kill, rateBefore),
        allDeliveredMs: doneAt === undefined ? undefined : doneAt - kill,
      };
    },
  };
}

/** The longest time without a new delivery after the kill, until everything was delivered. */
function longestStall(
  after: Sample[],
  kill: number,
  deliveredAtKill: number,
  doneAt: number | undefined,
): number {
  let longestStallMs = 0;
  let lastProgress = kill;
  let lastTotal = deliveredAtKill;
  for (const s of after) {
    if (s.total > lastTotal) {
      longestStallMs = Math.max(longestStallMs, s.at - lastProgress);
      lastProgress = s.at;
      lastTotal = s.total;
    }
    if (doneAt !== undefined && s.at >= doneAt) break;
  }
  return longestStallMs;
}

/** When (after the kill) a second of deliveries first reached half the rate before it; undefined if never. */
function rateRecovered(
  samples: Sample[],
  after: Sample[],
  kill: number,
  rateBefore: number,
): number | undefined {
  for (const s of after) {
    const windowStart = samples.find((w) => w.at >= s.at - 1_000 && w.at > kill);
    if (!windowStart || s.at - windowStart.at < 900) continue;
    const rate = ((s.total - windowStart.total) * 1_000) / (s.at - windowStart.at);
    if (rate >= rateBefore / 2) return windowStart.at - kill;
  }
  return undefined;
}

/**
 * For each user whose app did not see exactly `user-0 … user-(perUser-1)` in order: what went wrong, around the
 * first position that differs (an empty list means every user got everything once, in order).
 */
export function orderProblems(handled: Map<string, string[]>, perUser: number): string[] {
  const problems: string[] = [];
  for (const [user, ids] of handled) {
    const expected = Array.from({ length: perUser }, (_, n) => `${user}-${n}`);
    const at = expected.findIndex((id, i) => ids[i] !== id);
    if (at === -1 && ids.length === perUser) continue;
    const from = Math.max(0, at - 2);
    const seen = ids.slice(from, at + 6).map((id) => id.slice(user.length + 1));
    const missing = expected.filter((id) => !ids.includes(id)).length;
    problems.push(
      `${user}: ${ids.length} handled, ${missing} missing; at #${at} saw [${seen.join(",")}] from #${from}`,
    );
  }
  return problems;
}

/**
 * Publishes `perUser` messages (`<user>-<n>`) to each user at `ratePerSecond` in all, as a backend that cares about per-user order does:
 * users in parallel, each user's next message only after the previous one's PubAck. A publish that got no
 * PubAck (its NATS node died) is retried with the same id for `retryForMs` (Herald keeps one). Without the
 * per-user wait, a retried message would land in the intake after its successors, and no system could keep
 * an order the backend did not give it.
 */
export async function publishPerUserInOrder(
  backend: Backend,
  users: string[],
  perUser: number,
  options: { retryForMs: number; ratePerSecond: number },
): Promise<{ retries: number }> {
  let retries = 0;
  const start = Date.now();
  const { retryForMs, ratePerSecond } = options;
  await Promise.all(
    users.map(async (user, index) => {
      for (let n = 0; n < perUser; n++) {
        // A steady offered load: message k of all is due at k / rate, so publishing spans the kills.
        const due = start + ((n * users.length + index) * 1_000) / ratePerSecond;
        // One reading of the clock: read twice, the wait could come out negative (Node warns of that).
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const deadline = Date.now() + retryForMs;
        for (;;) {
          try {
            await backend.toUser(user, { data: { n }, id: `${user}-${n}` });
            break;
          } catch (error) {
            if (Date.now() > deadline) throw error;
            retries++;
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
        }
      }
    }),
  );
  return { retries };
}
