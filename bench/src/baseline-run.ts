import { startClientPool } from "./client-pool.js";
import type { ClientMode, ClientTarget } from "./client-worker.js";
import { nowUs, sleep } from "./clock.js";
import type { LadderResult } from "./ladder.js";
import { climbWith, type Offer } from "./ladder-run.js";
import type { BenchOptions } from "./options.js";
import { cpuMeter, rssBytes } from "./procfs.js";
import { type BaselineResult, loadAverage1m } from "./results.js";
import { perSecond, summarizeLatencies } from "./stats.js";

/** A comparison server (raw ws, Socket.IO) driven from this process; it generates the messages itself. */
export type BaselineServer = {
  name: string;
  mode: ClientMode;
  /** Server processes, for RSS. */
  pids: number[];
  /** A publisher process of its own (Socket.IO's emitter), for CPU. */
  publisherPid?: number;
  /** The system's processes whose CPU per message the ladder records (default: the servers). */
  systemPids?: Record<string, number | undefined>;
  targets: (users: string[]) => ClientTarget[];
  saturate: (phase: number, messages: number) => Promise<void>;
  paced: (phase: number, rate: number, durationMs: number) => Promise<number>;
  /** The ladder's sender: `paced`, with its failed sends counted. */
  offer: Offer;
  /** Other senders the ladder also climbs with, by name (Socket.IO: server 0 emitting itself). */
  alternatives?: Record<string, Offer>;
  stop: () => Promise<void>;
};

const totalRss = async (pids: number[]) => (await Promise.all(pids.map(rssBytes))).reduce((a, b) => a + b, 0);

/**
 * The same measurements as for Herald, against a baseline server: RSS per idle connection, targeted sends at
 * saturation, and latency at the offered rate.
 */
export async function runBaseline(
  server: BaselineServer,
  users: string[],
  o: BenchOptions,
  log: (line: string) => void,
): Promise<BaselineResult> {
  const pool = startClientPool(o.clientProcs);
  const loadStart = loadAverage1m();
  try {
    await sleep(1_000);
    const rssBefore = await totalRss(server.pids);
    await pool.connect(server.mode, server.targets(users));
    await sleep(2_000);
    const rssAfter = await totalRss(server.pids);
    const memory = {
      connections: users.length,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      perConnectionBytes: Math.round((rssAfter - rssBefore) / users.length),
    };
    log(`${server.name}: ${users.length} clients connected; RSS +${memory.perConnectionBytes} B/connection`);

    const warm = Math.min(o.messages, users.length * 2);
    await pool.reset({ phase: 1, messages: warm, recordLatencies: false });
    await server.saturate(1, warm);
    await pool.waitForAll(warm, { idleMs: 3_000, timeoutMs: 30_000 });

    const n = o.messages;
    await pool.reset({ phase: 2, messages: n, recordLatencies: false });
    const cpu = await cpuMeter({
      ...Object.fromEntries(server.pids.map((pid, i) => [`server${i}`, pid])),
      ...(server.publisherPid === undefined ? {} : { publisher: server.publisherPid }),
      ...Object.fromEntries(pool.pids.map((pid, i) => [`clients${i}`, pid])),
    });
    const start = nowUs();
    await server.saturate(2, n);
    const sentUs = nowUs();
    const got = await pool.waitForAll(n, { idleMs: 3_000, timeoutMs: 120_000 });
    const cpuSeconds = await cpu();
    const throughput = {
      messages: n,
      delivered: got.unique,
      duplicates: got.duplicates,
      complete: got.unique === n,
      publishMs: (sentUs - start) / 1000,
      elapsedMs: (got.lastUs - start) / 1000,
      msgsPerSec: perSecond(got.unique, got.lastUs - start),
      cpuSeconds,
    };
    log(`${server.name}: ${throughput.msgsPerSec} msg/s (${got.unique}/${n} delivered)`);

    const durationMs = o.latencySeconds * 1000;
    const total = Math.round((o.rate * durationMs) / 1000);
    await pool.reset({ phase: 3, messages: total, recordLatencies: true });
    const pacedStart = nowUs();
    await server.paced(3, o.rate, durationMs);
    const delivered = await pool.waitForAll(total, { idleMs: 3_000, timeoutMs: 60_000 });
    const withLatencies = await pool.stats(true);
    const latency = {
      offeredRate: o.rate,
      durationMs,
      messages: total,
      delivered: delivered.unique,
      duplicates: delivered.duplicates,
      achievedMsgsPerSec: perSecond(delivered.unique, delivered.lastUs - pacedStart),
      latencyMs: summarizeLatencies(withLatencies.latencies),
    };
    log(
      `${server.name}: p50 ${latency.latencyMs.p50} ms, p99 ${latency.latencyMs.p99} ms at ${o.rate} msg/s`,
    );
    const ladders = await climbLadders(server, pool, o, log);
    return { memory, throughput, latency, ...ladders, loadAverage: [loadStart, loadAverage1m()] };
  } finally {
    await pool.stop().catch(() => undefined);
    await server.stop().catch(() => undefined);
  }
}

/** The offered-load ladder with the server's sender, then with each alternative (phases from 100 up). */
async function climbLadders(
  server: BaselineServer,
  pool: ReturnType<typeof startClientPool>,
  o: BenchOptions,
  log: (line: string) => void,
): Promise<{ ladder?: LadderResult; ladderAlternatives?: Record<string, LadderResult> }> {
  if (o.ladderRates.length === 0) return {};
  const phases = { next: 100 };
  const processes = server.systemPids ?? Object.fromEntries(server.pids.map((pid, i) => [`server${i}`, pid]));
  const run = (name: string, offer: Offer) =>
    climbWith(pool, o, { offer, processes }, phases, (line) => log(`${name} ladder: ${line}`));
  const ladder = await run(server.name, server.offer);
  const alternatives: Record<string, LadderResult> = {};
  for (const [name, offer] of Object.entries(server.alternatives ?? {}))
    alternatives[name] = await run(`${server.name} (${name})`, offer);
  return { ladder, ...(server.alternatives ? { ladderAlternatives: alternatives } : {}) };
}
