import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NatsServer, type Stack, signToken, startStack } from "@herald/e2e/dist/fixtures/index.js";
import { DEFAULT_PREFIX, subjects } from "@herald/protocol";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { nowUs, sleep } from "./clock.js";
import { FANOUT_CHANNEL, fanoutData, fanoutId } from "./fanout-frames.js";
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
  serverPeakRssBytes: number;
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
  latency: FanoutLatency;
  /** Self time of the fan-out process during one extra (unmeasured) saturation round. */
  profile?: ProfileSummary;
  loadAverage: [number, number];
};

/** What a part needs from its sender: back-to-back messages and paced ones, numbered from 0. */
type Sender = {
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

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
};

async function saturationRound(
  pool: FanoutPool,
  sender: Sender,
  phase: number,
  o: FanoutOptions,
): Promise<SaturationRound> {
  const expected = o.messages * o.clients;
  await pool.reset(phase, o.messages, false);
  const cpu = await cpuMeter({
    server: sender.serverPid,
    ...sender.otherPids,
    ...Object.fromEntries(pool.pids.map((pid, i) => [`clients${i}`, pid])),
  });
  const peakRss = rssSampler(sender.serverPid);
  const { startUs, sentUs } = await sender.saturate(phase, o.messages);
  const stats = await pool.waitFor(expected, 10_000, 60_000);
  const cpuSeconds = await cpu();
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
    serverCpuMicrosPerDelivery:
      Math.round(((cpuSeconds.server ?? Number.NaN) * 1e6 * 100) / Math.max(1, stats.deliveries)) / 100,
    serverPeakRssBytes,
  };
}

/** Connects the clients, warms up, then the saturation rounds, the paced latency run and the profile. */
async function measure(
  name: string,
  pool: FanoutPool,
  sender: Sender,
  urlOf: (k: number) => string,
  o: FanoutOptions,
  log: Log,
): Promise<FanoutPart> {
  const loadStart = loadAverage1m();
  const rssIdleBytes = await rssBytes(sender.serverPid);
  const connectStart = performance.now();
  await pool.connect(
    name === "herald" ? "herald" : "raw",
    o.clients,
    urlOf,
    o.sourceAddresses,
    FANOUT_CHANNEL,
  );
  const connectSeconds = Math.round((performance.now() - connectStart) / 100) / 10;
  await sleep(1_000);
  const rssConnectedBytes = await rssBytes(sender.serverPid);
  const memory = {
    rssIdleBytes,
    rssConnectedBytes,
    perConnectionBytes: Math.round((rssConnectedBytes - rssIdleBytes) / o.clients),
  };
  log(
    `${name}: ${o.clients} clients ready in ${connectSeconds} s; RSS +${memory.perConnectionBytes} B/connection`,
  );

  // Warm-up (JIT, buffers), not measured.
  await pool.reset(1, o.warmup, false);
  await sender.saturate(1, o.warmup);
  await pool.waitFor(o.warmup * o.clients, 5_000, 30_000);

  const quiet = await waitForQuiet(o.quietWaitSeconds * 1000, 0.5);
  log(
    `${name}: machine ${quiet.quiet ? "quiet" : "busy"} (${quiet.busyCores} cores busy) after ${quiet.waitedMs} ms`,
  );
  const rounds: SaturationRound[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const round = await saturationRound(pool, sender, 10 + r, o);
    rounds.push(round);
    log(
      `${name}: round ${r + 1}: ${round.deliveries}/${round.expected} in ${round.elapsedMs} ms = ` +
        `${round.deliveriesPerSec} deliveries/s; server ${round.serverCpuMicrosPerDelivery} µs CPU/delivery`,
    );
  }
  const best = rounds.reduce((a, b) => (b.deliveriesPerSec > a.deliveriesPerSec ? b : a));

  const messages = Math.round(o.rate * o.latencySeconds);
  const expected = messages * o.clients;
  await pool.reset(3, messages, true);
  await sender.paced(3, o.rate, o.latencySeconds * 1000);
  const done = await pool.waitFor(expected, 5_000, 30_000);
  const withLatencies = await pool.stats(true);
  const latency: FanoutLatency = {
    offeredMsgsPerSec: o.rate,
    durationMs: o.latencySeconds * 1000,
    messages,
    expected,
    deliveries: done.deliveries,
    complete: done.deliveries === expected,
    latencyMs: summarizeLatencies(withLatencies.latencies),
  };
  log(`${name}: p50 ${latency.latencyMs.p50} ms, p99 ${latency.latencyMs.p99} ms at ${o.rate} msg/s`);

  let profile: ProfileSummary | undefined;
  if (o.profile && sender.profile) {
    const stop = await sender.profile();
    await saturationRound(pool, sender, 4, o);
    const raw = (await stop()) as CpuProfile;
    const file = join(tmpdir(), `fanout-${name.replace(/\W+/g, "-")}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(raw));
    profile = summarizeProfile(raw, 15);
    log(
      `${name}: profile written to ${file}; top: ${profile.top
        .slice(0, 3)
        .map((t) => `${t.name} ${t.percent}%`)
        .join(", ")}`,
    );
  }
  await pool.close();
  return {
    clients: o.clients,
    connectSeconds,
    memory,
    quiet,
    rounds,
    best,
    medianDeliveriesPerSec: median(rounds.map((r) => r.deliveriesPerSec)),
    latency,
    ...(profile ? { profile } : {}),
    loadAverage: [loadStart, loadAverage1m()],
  };
}

/** Connector settings for the bench: 10,000 clients from a few addresses, opened faster than 1,000/s. */
export const FANOUT_CONNECTOR_ENV = {
  HERALD_MAX_CONNECTIONS_PER_IP: "20000",
  HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: "20000",
};

/** Herald: 1 persistence, 1 router, 1 presence, 1 connector; the backend publishes with JetStream here. */
export async function runHeraldFanout(
  nats: NatsServer,
  pool: FanoutPool,
  o: FanoutOptions,
  runId: string,
  log: Log,
): Promise<FanoutPart> {
  const s = subjects(DEFAULT_PREFIX);
  let stack: Stack | undefined;
  let nc: NatsConnection | undefined;
  try {
    stack = await startStack({
      nats,
      env: { HERALD_PREFIX: DEFAULT_PREFIX },
      envFor: {
        // The inspector only serves the profile round; with no session attached it costs nothing.
        connector: {
          ...FANOUT_CONNECTOR_ENV,
          ...(o.profile ? { NODE_OPTIONS: "--inspect=127.0.0.1:0" } : {}),
        },
      },
    });
    const started = stack;
    const connector = started.connectors[0];
    if (!connector?.pid) throw new Error("no connector");
    const client = await connect({ servers: nats.url, noAsyncTraces: true, name: "fanout-backend" });
    nc = client;
    const js = jetstream(client);
    const subject = s.sendChannel(FANOUT_CHANNEL);
    const publish = (phase: number, n: number) => {
      const id = fanoutId(runId, phase, n);
      return js.publish(subject, JSON.stringify({ data: fanoutData(phase, n), id }), { msgID: id });
    };
    let publishErrors = 0;
    const sender: Sender = {
      serverPid: connector.pid,
      otherPids: {
        "nats-server": nats.pid(),
        router: started.routers[0]?.pid,
        persistence: started.persistence[0]?.pid,
        presence: started.presence[0]?.pid,
      },
      saturate: async (phase, messages) => {
        const startUs = nowUs();
        await Promise.all(Array.from({ length: messages }, (_, n) => publish(phase, n)));
        return { startUs, sentUs: nowUs() };
      },
      paced: async (phase, rate, durationMs) => {
        const startUs = nowUs();
        await paced(rate, durationMs, (n) => {
          publish(phase, n).catch(() => {
            publishErrors++;
          });
        });
        return { startUs };
      },
      profile: () => startCpuProfile(inspectorUrl(connector.logs()) ?? ""),
    };
    const tokens = await Promise.all(
      Array.from({ length: o.clients }, (_, k) =>
        signToken({ sub: `fan-u${k}`, did: "bench", channels: ["fan-*"] }, started.jwtSecret),
      ),
    );
    const part = await measure("herald", pool, sender, (k) => started.wsUrl(tokens[k]), o, log);
    if (publishErrors > 0) log(`herald: ${publishErrors} publishes failed during the latency run`);
    return part;
  } finally {
    await nc?.close().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
  }
}

/** The ceiling: a plain ws server process broadcasting one pre-serialised Buffer per message. */
export async function runRawFanout(pool: FanoutPool, o: FanoutOptions, runId: string, log: Log) {
  const server: Worker = startWorker("fanout-server-worker");
  try {
    const { port } = await server.call<{ port: number }>("listen");
    const sender: Sender = {
      serverPid: server.pid,
      otherPids: {},
      saturate: (phase, messages) => server.call("saturate", { runId, phase, messages }),
      paced: (phase, rate, durationMs) => server.call("paced", { runId, phase, rate, durationMs }),
      profile: async () => {
        await server.call("profileStart");
        return () => server.call("profileStop");
      },
    };
    return await measure("raw ws", pool, sender, () => `ws://127.0.0.1:${port}/`, o, log);
  } finally {
    await server.stop();
  }
}

export { startFanoutPool };
