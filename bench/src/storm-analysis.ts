import { busyCores } from "./procfs.js";
import { type LatencySummary, summarizeLatencies } from "./stats.js";
import type { StormClientReport } from "./storm-client-worker.js";

/** What the publisher sent: message `seq` went to user `seq % users`, published at `pubUs[seq]`. */
export type StormPublished = { users: number; pubUs: Float64Array; acked: Uint8Array };

export type StormAnalysis = {
  /** Victim clients welcomed again after the kill. */
  reconnected: number;
  /** Kill → the last client's first welcome after it (null while any is still out). */
  allReconnectedMs: number | null;
  reconnectMs: LatencySummary;
  /**
   * Kill → the moment a client had everything published to it before it was welcomed again (its backlog);
   * null while any client is out or misses one of those.
   */
  allCaughtUpMs: number | null;
  caughtUpMs: LatencySummary;
  /**
   * PubAcked messages its user's client had not received when the part ended: lost (must be 0) once every
   * client is back; while some are still out, theirs wait in the mailboxes.
   */
  lost: number;
  delivered: number;
  /** Kill → each client's first `disconnected` (how long it took to notice). */
  noticedMs: LatencySummary;
  /** Connection attempts each client needed after the kill (failed ones + the one that was welcomed). */
  attempts: { mean: number; max: number };
};

const ms = (us: number) => Math.round(us) / 1000;

/**
 * Times to reconnect and to catch up, and messages lost, from the clients' reports (one client per user) and
 * what was published. All times on the shared monotonic clock, in µs.
 */
export function analyseStorm(
  killUs: number,
  published: StormPublished,
  clients: StormClientReport[],
): StormAnalysis {
  const receivedBy = new Map<number, Map<number, number>>();
  for (const c of clients) {
    const got = new Map<number, number>();
    for (let i = 0; i + 1 < c.received.length; i += 2) got.set(c.received[i] ?? -1, c.received[i + 1] ?? 0);
    receivedBy.set(c.user, got);
  }
  let lost = 0;
  let delivered = 0;
  for (let seq = 0; seq < published.acked.length; seq++) {
    if (published.acked[seq] !== 1) continue;
    if (receivedBy.get(seq % published.users)?.has(seq)) delivered++;
    else lost++;
  }
  const reconnects: number[] = [];
  const noticed: number[] = [];
  let attemptsSum = 0;
  let attemptsMax = 0;
  for (const c of clients) {
    const first = c.disconnectedUs[0];
    if (first !== undefined) noticed.push(first - killUs);
    // Every ending after the kill but the first was a failed attempt; plus the one that was welcomed.
    const attempts = Math.max(0, c.disconnectedUs.length - 1) + (c.connectedUs.length > 0 ? 1 : 0);
    attemptsSum += attempts;
    attemptsMax = Math.max(attemptsMax, attempts);
  }
  const caughtUp: number[] = [];
  let allCaughtUp = true;
  for (const c of clients) {
    const back = c.connectedUs[0];
    if (back === undefined) {
      allCaughtUp = false;
      continue;
    }
    reconnects.push(back - killUs);
    const got = receivedBy.get(c.user) ?? new Map<number, number>();
    let done = back;
    for (let seq = c.user; seq < published.acked.length; seq += published.users) {
      if (published.acked[seq] !== 1 || (published.pubUs[seq] ?? 0) >= back) continue;
      const at = got.get(seq);
      if (at === undefined) allCaughtUp = false;
      else done = Math.max(done, at);
    }
    caughtUp.push(done - killUs);
  }
  const everyone = reconnects.length === clients.length;
  return {
    reconnected: reconnects.length,
    allReconnectedMs: everyone && reconnects.length > 0 ? ms(Math.max(...reconnects)) : null,
    reconnectMs: summarizeLatencies(reconnects),
    allCaughtUpMs: everyone && allCaughtUp && caughtUp.length > 0 ? ms(Math.max(...caughtUp)) : null,
    caughtUpMs: summarizeLatencies(caughtUp),
    lost,
    delivered,
    noticedMs: summarizeLatencies(noticed),
    attempts: {
      mean: clients.length === 0 ? 0 : Math.round((attemptsSum / clients.length) * 100) / 100,
      max: attemptsMax,
    },
  };
}

/**
 * CPU seconds each kind of process used from the kill until every client was back, and per client, in ms: what
 * the storm's length is made of on a machine whose cores it saturates.
 */
export type StormCpu = {
  windowSeconds: number;
  /** By kind: a name's trailing number is dropped, so `connector1`…`connector3` add up to `connector`. */
  seconds: Record<string, number>;
  msPerClient: Record<string, number>;
  /** All of it (the rest of the machine included) over the window: near the core count, the storm was CPU-bound. */
  busyCores: number;
};

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Sums a `cpuMeter` reading by kind of process (unreadable ones left out) and divides it by the clients.
 *
 * @example
 * stormCpu({ connector1: 1, connector2: 2, "nats-server": 0.5 }, 4, 1000)
 * // { windowSeconds: 4, seconds: { connector: 3, "nats-server": 0.5 }, msPerClient: { connector: 3, "nats-server": 0.5 },
 * //   busyCores: 0.88 }
 */
export function stormCpu(used: Record<string, number>, windowSeconds: number, clients: number): StormCpu {
  const seconds: Record<string, number> = {};
  for (const [name, value] of Object.entries(used)) {
    if (!Number.isFinite(value)) continue;
    const kind = name.replace(/\d+$/, "");
    seconds[kind] = round2((seconds[kind] ?? 0) + value);
  }
  const msPerClient = Object.fromEntries(
    Object.entries(seconds).map(([kind, s]) => [kind, round2((s * 1000) / Math.max(1, clients))]),
  );
  return {
    windowSeconds: round2(windowSeconds),
    seconds,
    msPerClient,
    busyCores: busyCores(used, windowSeconds),
  };
}
