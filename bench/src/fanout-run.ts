import { writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_PREFIX, subjects } from "@herald/protocol";
import { type NatsServer, signToken, startStack } from "@herald/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { nowUs, sleep } from "./clock.js";
import type { FanoutMode } from "./fanout-client-worker.js";
import { FANOUT_CHANNEL, fanoutData, fanoutId } from "./fanout-frames.js";
import { evaluateIn } from "./fanout-inspector.js";
import { type FanoutPool, startFanoutPool } from "./fanout-pool.js";
import { type CpuProfile, type ProfileSummary, summarizeProfile } from "./fanout-profile.js";
import type { FanoutOptions } from "./fanout-report.js";
import { paced } from "./pacing.js";
import { inspectorUrl, startCpuProfile } from "./presence-inspector.js";
import { cpuMeter, rssBytes } from "./procfs.js";
import { type QuietWait, waitForQuiet } from "./quiet.js";
import { loadAverage1m } from "./results.js";
import { type LatencySummary, perSecond, summarizeLatencies } from "./stats.js";
import { startWorker, type Worker } from "./worker.js";

/** `messages` sent back to back to every subscriber; time from the first send to the last delivery. */
export type SaturationRound = {
  messages: number;
  expected: number;
  deliveries: number;
  duplicates: number;
  skipped: number;
  complete: boolean;
  /** Time the sender needed to hand every message over (Herald: every PubAck back). */
  sendMs: number;
  elapsedMs: number;
  deliveriesPerSec: number;
  cpuSeconds: Record<string, number>;
  /** CPU of the fan-out process (connector / raw server) per delivery, µs. */
  serverCpuMicrosPerDelivery: number;
  /** The same split into user (JS, V8) and system (syscalls: the kernel's loopback TCP) time. */
  serverUserMicrosPerDelivery: number;
  serverSystemMicrosPerDelivery: number;
  serverPeakRssBytes: number;
  /** Machine-wide softirq (kernel network processing not charged to a process) and steal seconds. */
  machineSeconds: { softirq: number; steal: number };
};

export type FanoutLatency = {
  offeredMsgsPerSec: number;
  durationMs: number;
  messages: number;
  expected: number;
  deliveries: number;
  complete: boolean;
  latencyMs: LatencySummary;
};

export type FanoutPart = {
  clients: number;
  connectSeconds: number;
  /** Fan-out process RSS before the clients connected, after, and per connection. */
  memory: { rssIdleBytes: number; rssConnectedBytes: number; perConnectionBytes: number };
  quiet: QuietWait;
  rounds: SaturationRound[];
  /** The round with the most deliveries per second (noise on a shared machine only ever slows a round). */
  best: SaturationRound;
  medianDeliveriesPerSec: number;
  /** Median over the rounds of the fan-out process's CPU per delivery, µs (total, user, system). */
  serverCpuMicrosPerDelivery: { total: number; user: number; system: number };
  latency: FanoutLatency;
  /** Self time of the fan-out process during one extra (unmeasured) saturation round. */
  profile?: ProfileSummary;
  loadAverage: [number, number];
};

/** What a part needs from its sender: back-to-back messages and paced ones, numbered from 0. */
type Sender = {
  name: string;
  mode: FanoutMode;
  urlOf: (k: number) => string;
  serverPid: number;
  otherPids: Record<string, number | undefined>;
  saturate: (phase: number, messages: number) => Promise<{ startUs: number; sentUs: number }>;
  paced: (phase: number, rate: number, durationMs: number) => Promise<{ startUs: number }>;
  profile?: () => Promise<() => Promise<unknown>>;
};

type Log = (line: string) => void;

function rssSampler(pid: number): () => number {
  let peak = 0;
  const sample = () =>
    rssBytes(pid).then(
      (bytes) => {
        peak = Math.max(peak, bytes);
      },
      () => undefined,
    );
  void sample();
  const timer = setInterval(sample, 100);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

/** User and system CPU seconds of a process so far (procfs.ts sums them; the split shows the syscall share). */
async function cpuSplit(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/**
 * Machine-wide softirq and steal seconds so far. Loopback TCP receive work runs in softirq context and, with
 * IRQ time accounting, is charged to no process: it shows here instead of in the sender's system time.
 */
async function machineSplit(): Promise<{ softirq: number; steal: number }> {
  const fields = ((await readFile("/proc/stat", "utf8")).split("\n")[0] ?? "").trim().split(/\s+/);
  return { softirq: Number(fields[7]) / 100, steal: Number(fields[8]) / 100 };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
};

const perDelivery = (seconds: number, deliveries: number) =>
  Math.round((seconds * 1e6 * 100) / Math.max(1, deliveries)) / 100;

async function saturationRound(
  pool: FanoutPool,
  sender: Sender,
  phase: number,
  o: FanoutOptions,
): Promise<SaturationRound> {
  const expected = o.messages * o.clients;
  await pool.reset(sender.mode, phase, o.messages, false);
  const cpu = await cpuMeter({
    server: sender.serverPid,
    ...sender.otherPids,
    ...Object.fromEntries(pool.pids.map((pid, i) => [`clients${i}`, pid])),
  });
  const splitBefore = await cpuSplit(sender.serverPid);
  const machineBefore = await machineSplit();
  const peakRss = rssSampler(sender.serverPid);
  const { startUs, sentUs } = await sender.saturate(phase, o.messages);
  const stats = await pool.waitFor(sender.mode, expected, 10_000, 60_000);
  const cpuSeconds = await cpu();
  const splitAfter = await cpuSplit(sender.serverPid);
  const machineAfter = await machineSplit();
  const serverPeakRssBytes = peakRss();
  const elapsedUs = stats.lastUs - startUs;
  return {
    messages: o.messages,
    expected,
    deliveries: stats.deliveries,
    duplicates: stats.duplicates,
    skipped: stats.skipped,
    complete: stats.deliveries === expected,
    sendMs: Math.round(sentUs - startUs) / 1000,
    elapsedMs: Math.round(elapsedUs) / 1000,
    deliveriesPerSec: perSecond(stats.deliveries, elapsedUs),
    cpuSeconds,
    serverCpuMicrosPerDelivery: perDelivery(cpuSeconds.server ?? Number.NaN, stats.deliveries),
    serverUserMicrosPerDelivery: perDelivery(splitAfter.user - splitBefore.user, stats.deliveries),
    serverSystemMicrosPerDelivery: perDelivery(splitAfter.system - splitBefore.system, stats.deliveries),
    serverPeakRssBytes,
    machineSeconds: {
      softirq: Math.round((machineAfter.softirq - machineBefore.softirq) * 100) / 100,
      steal: Math.round((machineAfter.steal - machineBefore.steal) * 100) / 100,
    },
  };
}

type Connected = { sender: Sender; connectSeconds: number; memory: FanoutPart["memory"] };

async function connectSide(pool: FanoutPool, sender: Sender, o: FanoutOptions, log: Log): Promise<Connected> {
  const rssIdleBytes = await rssBytes(sender.serverPid);
  const connectStart = performance.now();
  await pool.connect(sender.mode, o.clients, sender.urlOf, o.sourceAddresses, FANOUT_CHANNEL);
  const connectSeconds = Math.round((performance.now() - connectStart) / 100) / 10;
  await sleep(1_000);
  const rssConnectedBytes = await rssBytes(sender.serverPid);
  const memory = {
    rssIdleBytes,
    rssConnectedBytes,
    perConnectionBytes: Math.round((rssConnectedBytes - rssIdleBytes) / o.clients),
  };
  log(
    `${sender.name}: ${o.clients} clients ready in ${connectSeconds} s; RSS +${memory.perConnectionBytes} B/connection`,
  );
  // Warm-up (JIT, buffers), not measured.
  await pool.reset(sender.mode, 1, o.warmup, false);
  await sender.saturate(1, o.warmup);
  await pool.waitFor(sender.mode, o.warmup * o.clients, 5_000, 30_000);
  return { sender, connectSeconds, memory };
}

async function latencyRun(
  pool: FanoutPool,
  sender: Sender,
  o: FanoutOptions,
  log: Log,
): Promise<FanoutLatency> {
  const messages = Math.round(o.rate * o.latencySeconds);
  const expected = messages * o.clients;
  await pool.reset(sender.mode, 3, messages, true);
  await sender.paced(3, o.rate, o.latencySeconds * 1000);
  const done = await pool.waitFor(sender.mode, expected, 5_000, 30_000);
  const withLatencies = await pool.stats(sender.mode, true);
  const latency: FanoutLatency = {
    offeredMsgsPerSec: o.rate,
    durationMs: o.latencySeconds * 1000,
    messages,
    expected,
    deliveries: done.deliveries,
    complete: done.deliveries === expected,
    latencyMs: summarizeLatencies(withLatencies.latencies),
  };
  log(`${sender.name}: p50 ${latency.latencyMs.p50} ms, p99 ${latency.latencyMs.p99} ms at ${o.rate} msg/s`);
  return latency;
}

async function profileRound(pool: FanoutPool, sender: Sender, o: FanoutOptions, log: Log) {
  if (!sender.profile) return undefined;
  const stop = await sender.profile();
  await saturationRound(pool, sender, 4, o);
  const raw = (await stop()) as CpuProfile;
  const file = join(tmpdir(), `fanout-${sender.name.replace(/\W+/g, "-")}-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(raw));
  const profile = summarizeProfile(raw, 15);
  const top = profile.top.slice(0, 3).map((t) => `${t.name} ${t.percent}%`);
  log(`${sender.name}: profile written to ${file}; top: ${top.join(", ")}`);
  return profile;
}

/**
 * Both sides connected at once, then their saturation rounds alternate (raw, Herald, Herald, raw, ...): on a
 * shared machine whose other load changes by the second, alternating keeps the comparison fair.
 */
async function measureBoth(pool: FanoutPool, sides: Connected[], o: FanoutOptions, log: Log) {
  const quiet = await waitForQuiet(o.quietWaitSeconds * 1000, 0.5);
  log(`machine ${quiet.quiet ? "quiet" : "busy"} (${quiet.busyCores} cores busy) after ${quiet.waitedMs} ms`);
  const loadStart = loadAverage1m();
  const rounds = new Map<Connected, SaturationRound[]>(sides.map((side) => [side, []]));
  for (let r = 0; r < o.rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const round = await saturationRound(pool, side.sender, 10 + r, o);
      rounds.get(side)?.push(round);
      log(
        `${side.sender.name}: round ${r + 1}: ${round.deliveries}/${round.expected} in ${round.elapsedMs} ms = ` +
          `${round.deliveriesPerSec} deliveries/s; server ${round.serverCpuMicrosPerDelivery} µs CPU/delivery ` +
          `(user ${round.serverUserMicrosPerDelivery}, system ${round.serverSystemMicrosPerDelivery})`,
      );
    }
  }
  const latencies = new Map<Connected, FanoutLatency>();
  for (const side of sides) latencies.set(side, await latencyRun(pool, side.sender, o, log));
  const profiles = new Map<Connected, ProfileSummary | undefined>();
  if (o.profile) for (const side of sides) profiles.set(side, await profileRound(pool, side.sender, o, log));
  const loadEnd = loadAverage1m();
  return sides.map((side): FanoutPart => {
    const mine = rounds.get(side) ?? [];
    const profile = profiles.get(side);
    return {
      clients: o.clients,
      connectSeconds: side.connectSeconds,
      memory: side.memory,
      quiet,
      rounds: mine,
      best: mine.reduce((a, b) => (b.deliveriesPerSec > a.deliveriesPerSec ? b : a)),
      medianDeliveriesPerSec: median(mine.map((round) => round.deliveriesPerSec)),
      serverCpuMicrosPerDelivery: {
        total: median(mine.map((round) => round.serverCpuMicrosPerDelivery)),
        user: median(mine.map((round) => round.serverUserMicrosPerDelivery)),
        system: median(mine.map((round) => round.serverSystemMicrosPerDelivery)),
      },
      latency: latencies.get(side) as FanoutLatency,
      ...(profile ? { profile } : {}),
      loadAverage: [loadStart, loadEnd],
    };
  });
}

/** Connector settings for the bench: 10,000 clients from a few addresses, opened faster than 1,000/s. */
export const FANOUT_CONNECTOR_ENV = {
  HERALD_MAX_CONNECTIONS_PER_IP: "20000",
  HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: "20000",
};

/** Herald: 1 persistence, 1 router, 1 presence, 1 connector; the backend publishes with JetStream here. */
async function heraldSender(nats: NatsServer, o: FanoutOptions, runId: string) {
  const s = subjects(DEFAULT_PREFIX);
  const v8Flags = process.env.BENCH_FANOUT_CONNECTOR_V8_FLAGS;
  const inspect = o.profile || v8Flags !== undefined;
  const stack = await startStack({
    nats,
    env: { HERALD_PREFIX: DEFAULT_PREFIX },
    envFor: {
      // The inspector only serves the profile round; with no session attached it costs nothing.
      connector: { ...FANOUT_CONNECTOR_ENV, ...(inspect ? { NODE_OPTIONS: "--inspect=127.0.0.1:0" } : {}) },
    },
  });
  let nc: NatsConnection | undefined;
  const close = async () => {
    await nc?.close().catch(() => undefined);
    await stack.stop().catch(() => undefined);
  };
  try {
    const connector = stack.connectors[0];
    if (!connector?.pid) throw new Error("no connector");
    if (v8Flags) {
      // A diagnosis (e.g. --no-turbo-inlining, so the profile names each function of the delivery path rather
      // than the one they were inlined into); V8 flags are refused in NODE_OPTIONS, so they are set at run time,
      // before the delivery path first runs.
      const expression = `process.getBuiltinModule("v8").setFlagsFromString(${JSON.stringify(v8Flags)})`;
      await evaluateIn(inspectorUrl(connector.logs()) ?? "", expression);
    }
    const client = await connect({ servers: nats.url, noAsyncTraces: true, name: "fanout-backend" });
    nc = client;
    const js = jetstream(client);
    const subject = s.sendChannel(FANOUT_CHANNEL);
    const publish = (phase: number, n: number) => {
      const id = fanoutId(runId, phase, n);
      return js.publish(subject, JSON.stringify({ data: fanoutData(phase, n), id }), { msgID: id });
    };
    const tokens = await Promise.all(
      Array.from({ length: o.clients }, (_, k) =>
        signToken({ sub: `fan-u${k}`, did: "bench", channels: ["fan-*"] }, stack.jwtSecret),
      ),
    );
    const sender: Sender = {
      name: "herald",
      mode: "herald",
      urlOf: (k) => stack.wsUrl(tokens[k]),
      serverPid: connector.pid,
      otherPids: {
        "nats-server": nats.pid(),
        router: stack.routers[0]?.pid,
        persistence: stack.persistence[0]?.pid,
        presence: stack.presence[0]?.pid,
      },
      saturate: async (phase, messages) => {
        const startUs = nowUs();
        await Promise.all(Array.from({ length: messages }, (_, n) => publish(phase, n)));
        return { startUs, sentUs: nowUs() };
      },
      paced: async (phase, rate, durationMs) => {
        const startUs = nowUs();
        const publishes: Promise<unknown>[] = [];
        await paced(rate, durationMs, (n) => {
          publishes.push(publish(phase, n));
        });
        await Promise.all(publishes);
        return { startUs };
      },
      profile: () => startCpuProfile(inspectorUrl(connector.logs()) ?? ""),
    };
    return { sender, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The ceiling: a plain ws server process broadcasting one pre-serialised Buffer per message. */
async function rawSender(runId: string) {
  const server: Worker = startWorker("fanout-server-worker");
  try {
    const { port } = await server.call<{ port: number }>("listen");
    const sender: Sender = {
      name: "raw ws",
      mode: "raw",
      urlOf: () => `ws://127.0.0.1:${port}/`,
      serverPid: server.pid,
      otherPids: {},
      saturate: (phase, messages) => server.call("saturate", { runId, phase, messages }),
      paced: (phase, rate, durationMs) => server.call("paced", { runId, phase, rate, durationMs }),
      profile: async () => {
        await server.call("profileStart");
        return () => server.call("profileStop");
      },
    };
    return { sender, close: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

export type FanoutSide = FanoutPart | { skipped: string };

/**
 * The whole benchmark: the raw server and the Herald stack up, `clients` clients on each, alternating
 * saturation rounds, a paced latency run each and a profiled round each. A side that cannot start is
 * recorded as skipped and the other is still measured.
 */
export async function runFanout(
  nats: NatsServer,
  o: FanoutOptions,
  runId: string,
  log: Log,
): Promise<{ raw: FanoutSide; herald: FanoutSide }> {
  const pool = startFanoutPool(o.clientProcs);
  const closers: (() => Promise<void>)[] = [];
  const result: { raw: FanoutSide; herald: FanoutSide } = {
    raw: { skipped: "not run" },
    herald: { skipped: "not run" },
  };
  try {
    const sides: Connected[] = [];
    const keys: ("raw" | "herald")[] = [];
    for (const [key, start] of [
      ["raw", () => rawSender(runId)],
      ["herald", () => heraldSender(nats, o, runId)],
    ] as const) {
      try {
        const { sender, close } = await start();
        closers.push(close);
        sides.push(await connectSide(pool, sender, o, log));
        keys.push(key);
      } catch (error) {
        log(`${key} could not start: ${(error as Error).stack ?? error}`);
        result[key] = { skipped: String((error as Error).message ?? error) };
      }
    }
    if (sides.length > 0) {
      const parts = await measureBoth(pool, sides, o, log);
      parts.forEach((part, i) => {
        result[keys[i] as "raw" | "herald"] = part;
      });
    }
    return result;
  } finally {
    await pool.stop().catch(() => undefined);
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}
