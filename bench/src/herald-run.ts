import { DEFAULT_PREFIX, type SendBody, subjects, userToken } from "@herald/protocol";
import { JsPublisher } from "@herald/service-kit";
import { signToken, startStack } from "@herald/testkit";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startClientPool } from "./client-pool.js";
import { nowUs, sleep } from "./clock.js";
import { dataMaker, idPrefix, messageId } from "./frames.js";
import { bucketsDelta, type HopLag, hopLag, parseBuckets } from "./hop-lag.js";
import type { LadderResult } from "./ladder.js";
import { climbWith, type LadderSender, pacedOffer } from "./ladder-run.js";
import { type BenchOptions, jsonEnv, serviceNodeOptionsEnv } from "./options.js";
import { paced, windowed } from "./pacing.js";
import { busyCores, cpuMeter, fetchMetricsText, rssBytes, scrapeHeraldMetrics } from "./procfs.js";
import { ReceiptCounter } from "./receipts.js";
import { type LatencyRun, loadAverage1m, type MemoryResult, type ThroughputRun } from "./results.js";
import { type LatencySummary, perSecond, summarizeLatencies } from "./stats.js";

type HeraldThroughput = ThroughputRun & {
  receipts: number;
  /** JetStream writes counted on the streams during the run, per message published. */
  durableWrites: Record<"intake" | "mailbox" | "acks" | "cursors", number> & { perMessage: number };
  cpuSeconds: Record<string, number>;
  /** CPU time per message, µs, by process and in total: what bounds throughput when the cores are busy. */
  cpuMicrosPerMessage: Record<string, number>;
};

/** `receipts`: acks receipted by persistence during the run (its counter; no receipt subscriber here). */
export type HeraldLatency = LatencyRun & {
  receipts: number;
  publishErrors: number;
  /** CPU per message at the offered rate, µs, by process: what queues a message when the cores are busy. */
  cpuMicrosPerMessage: Record<string, number>;
  /** Busy cores of the whole machine while publishing (all processes, ours or not). */
  machineBusyCores: number;
  /**
   * The latency split where the intake stream stored each message: publish → stored (publisher and
   * nats-server) and stored → received (router, mailbox write, connector, client). Each half ±1 ms.
   */
  stages?: { publishToStoredMs: LatencySummary; storedToReceivedMs: LatencySummary };
  /** Lag after the intake store, per hop, from the services' own histograms (bucket edges). */
  hops?: Partial<Record<HopName, HopLag>>;
};

type HopName = "intakeToRouter" | "intakeToConnector";

export type HeraldResult = {
  memory: MemoryResult;
  /** Sustained: a closed loop with at most `inflight` messages published and not yet acked. */
  throughput: HeraldThroughput & { inflight: number };
  /** All `messages` published at once (PubAck window only), until every one is acked. */
  burst: HeraldThroughput;
  /** Herald's own metrics (counters and gauges) of each service at the end of the run. */
  serviceMetrics: Record<string, Record<string, number>>;
  latency: HeraldLatency;
  /** The latency run again at each of `--latency-rates`. */
  latencyByRate: HeraldLatency[];
  /** The offered-load ladder (delivered and acked, by persistence's counter); absent with `--ladder-rates none`. */
  ladder?: LadderResult;
  loadAverage: [number, number];
};

function perMessage(cpuSeconds: Record<string, number>, messages: number): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [name, seconds] of Object.entries(cpuSeconds)) {
    if (name === "otherProcesses") continue;
    out[name] = Math.round((seconds * 1e6) / messages);
    if (Number.isFinite(seconds)) total += seconds;
  }
  out.total = Math.round((total * 1e6) / messages);
  return out;
}

/** Acks persistence took from the ack stream, a receipt each (their cursor writes come later, merged). */
const ACKS_RECEIPTED = 'herald_persistence_receipts_total{service="persistence"}';

export const userIds = (count: number) =>
  Array.from({ length: count }, (_, i) => `u${String(i).padStart(5, "0")}`);

type Streams = Record<"intake" | "mailbox" | "acks" | "cursors", string>;

/** What every phase of the Herald part works with: the stack, the clients, the publishers and the meters. */
type HeraldRig = {
  o: BenchOptions;
  runId: string;
  log: (line: string) => void;
  nats: { url: string; pid: () => number | undefined };
  stack: Awaited<ReturnType<typeof startStack>>;
  pool: ReturnType<typeof startClientPool>;
  receipts: ReceiptCounter;
  users: string[];
  connectorPid: number;
  streams: Streams;
  jsm: JetStreamManager;
  publish: (phase: number, i: number, client?: "js" | "pipelined") => Promise<unknown>;
  /** Persistence's count of applied acks (the latency runs and the ladder have no receipt subscriber). */
  acksReceipted: () => Promise<number>;
};

/**
 * Herald end to end on a private nats-server: 1 persistence, 1 router, 1 presence, 1 connector (real
 * processes), `users` WebSocket clients that ack like the SDK, and a JetStream publisher in this process.
 */
export async function runHerald(
  nats: { url: string; pid: () => number | undefined },
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<HeraldResult> {
  const s = subjects(DEFAULT_PREFIX);
  const loadStart = loadAverage1m();
  // BENCH_HERALD_ENV (JSON) sets the services' env for an A/B of a setting, e.g. PERSISTENCE_CURSOR_DELAY.
  const env = { HERALD_PREFIX: DEFAULT_PREFIX, ...serviceNodeOptionsEnv(), ...jsonEnv("BENCH_HERALD_ENV") };
  const stack = await startStack({ nats, env });
  const pool = startClientPool(o.clientProcs);
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const receipts = new ReceiptCounter(nc, s);
  const pipelined = new JsPublisher(nc, { timeoutMs: 30_000 });
  try {
    const users = userIds(o.users);
    const persistenceUrl = stack.persistence[0]?.adminUrl ?? "";
    const rig: HeraldRig = {
      o,
      runId,
      log,
      nats,
      stack,
      pool,
      receipts,
      users,
      connectorPid: stack.connectors[0]?.pid ?? 0,
      streams: {
        intake: s.streams.intake,
        mailbox: s.streams.mailbox,
        acks: s.streams.acks,
        cursors: `KV_${s.buckets.cursors}`,
      },
      jsm: await jetstreamManager(nc),
      publish: publisher(jetstream(nc), pipelined, users, o, runId),
      acksReceipted: async () => (await scrapeHeraldMetrics(persistenceUrl))[ACKS_RECEIPTED] ?? Number.NaN,
    };
    const memory = await connectClients(rig);
    await warmUp(rig);
    // Sustained: a closed loop (at most `inflight` unacked), the rate Herald keeps up with.
    const throughput = { ...(await saturate(rig, 2, o.messages, o.inflight)), inflight: o.inflight };
    log(
      `herald: ${throughput.msgsPerSec} msg/s end to end, ${o.inflight} in flight (${throughput.receipts}/${o.messages} acked)`,
    );
    const latency = await measureLatency(rig, 3, o.rate);
    // The same at other rates (phases 5, 6, ...): where on this machine p99 stays within the target.
    const latencyByRate: HeraldLatency[] = [];
    for (const [k, rate] of o.latencyRates.entries())
      latencyByRate.push(await measureLatency(rig, 5 + k, rate));
    const ladder = o.ladderRates.length > 0 ? await climbLadder(rig) : undefined;
    // Burst: everything at once (open loop); the backlog lands in the intake work queue first. Last, since
    // what it leaves in nats-server (deleted messages in the intake's blocks) slows what follows.
    const burst = await saturate(rig, 4, o.messages, undefined);
    log(`herald: burst of ${o.messages} drained at ${burst.msgsPerSec} msg/s (${burst.receipts} acked)`);
    const serviceMetrics: Record<string, Record<string, number>> = {};
    for (const service of stack.all())
      serviceMetrics[service.name] = await scrapeHeraldMetrics(service.adminUrl);
    return {
      memory,
      throughput,
      burst,
      latency,
      latencyByRate,
      ...(ladder ? { ladder } : {}),
      serviceMetrics,
      loadAverage: [loadStart, loadAverage1m()],
    };
  } finally {
    receipts.stop();
    pipelined.close();
    await nc.close().catch(() => undefined);
    await pool.stop().catch(() => undefined);
    await stack.stop().catch(() => undefined);
  }
}

/**
 * Publishes message `i` of a phase to the `i`-th user (round-robin). Throughput runs publish with `js.publish`,
 * the client the ceiling's raw rate is measured with. The latency run uses the pipelined publisher: it shares the
 * 2 cores with Herald, and `js.publish` costs ~0.1 core more at 5,000 msg/s (its request object per call), which
 * shows up as queueing in Herald's processes. The latency is taken from just before the publish call either way.
 */
function publisher(
  js: JetStreamClient,
  pipelined: JsPublisher,
  users: string[],
  o: BenchOptions,
  runId: string,
): HeraldRig["publish"] {
  const s = subjects(DEFAULT_PREFIX);
  const sendSubjects = users.map((user) => s.sendUser(userToken(user)));
  const encoder = new TextEncoder();
  const make = dataMaker(o.payloadBytes, (data) =>
    JSON.stringify({ id: messageId(runId, 9, 99_999), data } satisfies SendBody),
  );
  return (phase, i, client = "js") => {
    const id = messageId(runId, phase, i);
    const body: SendBody = { id, data: make(phase, i) };
    const subject = sendSubjects[i % users.length] ?? "";
    const payload = encoder.encode(JSON.stringify(body));
    return client === "pipelined"
      ? pipelined.publish(subject, payload, { msgID: id })
      : js.publish(subject, payload, { msgID: id });
  };
}

/** Connects a client per user and measures the connector's RSS per connection. */
async function connectClients({ stack, pool, users, connectorPid, log }: HeraldRig): Promise<MemoryResult> {
  await sleep(1_000);
  const rssBefore = await rssBytes(connectorPid);
  const tokens = await Promise.all(users.map((sub) => signToken({ sub, did: "bench" }, stack.jwtSecret)));
  await pool.connect(
    "herald",
    users.map((user, k) => ({ user, url: stack.wsUrl(tokens[k]) })),
  );
  await sleep(2_000);
  const rssAfter = await rssBytes(connectorPid);
  const memory: MemoryResult = {
    connections: users.length,
    rssBeforeBytes: rssBefore,
    rssAfterBytes: rssAfter,
    perConnectionBytes: Math.round((rssAfter - rssBefore) / users.length),
  };
  log(`herald: ${users.length} clients connected; connector RSS +${memory.perConnectionBytes} B/connection`);
  return memory;
}

/** Warm-up (JIT, consumers, cursors) so the measured runs start from a steady state. */
async function warmUp({ o, runId, pool, receipts, users, publish }: HeraldRig): Promise<void> {
  const warm = Math.min(o.messages, users.length * 2);
  await pool.reset({ phase: 1, messages: warm, recordLatencies: false });
  receipts.reset(idPrefix(runId, 1), warm);
  await windowed(warm, o.window, (i) => publish(1, i));
  await receipts.wait({ idleMs: 10_000, timeoutMs: 60_000 });
}

/** The last sequence of each stream Herald writes: the difference over a run is its durable writes. */
async function lastSeqs({ jsm, streams }: HeraldRig): Promise<Record<string, number>> {
  const seqs: Record<string, number> = {};
  for (const [key, name] of Object.entries(streams))
    seqs[key] = (await jsm.streams.info(name)).state.last_seq;
  return seqs;
}

/** nats-server's and each service's pid, by the name the results use. */
function serverPids({ nats, stack, connectorPid }: HeraldRig): Record<string, number | undefined> {
  return {
    "nats-server": nats.pid(),
    connector: connectorPid,
    router: stack.routers[0]?.pid,
    persistence: stack.persistence[0]?.pid,
    presence: stack.presence[0]?.pid,
  };
}

/** CPU of nats-server, each service and each client process, from now until the returned function is called. */
function meterCpu(rig: HeraldRig) {
  return cpuMeter({
    ...serverPids(rig),
    ...Object.fromEntries(rig.pool.pids.map((pid, i) => [`clients${i}`, pid])),
  });
}

/**
 * Publishes `n` messages (PubAck window `o.window`) until every one is delivered and acked. With `inflight`,
 * a message is published only while fewer than that many are published and not yet receipted.
 */
async function saturate(
  rig: HeraldRig,
  phase: number,
  n: number,
  inflight: number | undefined,
): Promise<HeraldThroughput> {
  const { o, runId, pool, receipts, publish } = rig;
  await pool.reset({ phase, messages: n, recordLatencies: false });
  receipts.reset(idPrefix(runId, phase), n);
  const seqsBefore = await lastSeqs(rig);
  const cpu = await meterCpu(rig);
  const start = nowUs();
  await windowed(n, o.window, async (i) => {
    if (inflight !== undefined) await receipts.atLeast(i - inflight + 1);
    return publish(phase, i);
  });
  const publishedUs = nowUs();
  await receipts.wait({ idleMs: 15_000, timeoutMs: 240_000 });
  const clients = await pool.waitForAll(n, { idleMs: 5_000, timeoutMs: 30_000 });
  const cpuSeconds = await cpu();
  const seqsAfter = await lastSeqs(rig);
  const writes = Object.fromEntries(
    Object.keys(rig.streams).map((key) => [key, (seqsAfter[key] ?? 0) - (seqsBefore[key] ?? 0)]),
  ) as Record<keyof Streams, number>;
  const totalWrites = Object.values(writes).reduce((a, b) => a + b, 0);
  const end = receipts.unique === n ? receipts.lastUs : Math.max(receipts.lastUs, clients.lastUs);
  return {
    messages: n,
    delivered: clients.unique,
    duplicates: clients.duplicates,
    receipts: receipts.unique,
    complete: receipts.unique === n && clients.unique === n,
    publishMs: (publishedUs - start) / 1000,
    elapsedMs: (end - start) / 1000,
    msgsPerSec: perSecond(Math.min(receipts.unique, clients.unique), end - start),
    durableWrites: { ...writes, perMessage: Math.round((totalWrites / n) * 100) / 100 },
    cpuSeconds,
    cpuMicrosPerMessage: perMessage(cpuSeconds, n),
  };
}

/** The lag histograms of the hops after the intake store, scraped from the services that record them. */
async function hopBuckets({ stack }: HeraldRig) {
  const sources: Record<HopName, { url: string | undefined; name: string; labels?: string }> = {
    intakeToRouter: { url: stack.routers[0]?.adminUrl, name: "herald_router_intake_lag_seconds" },
    intakeToConnector: {
      url: stack.connectors[0]?.adminUrl,
      name: "herald_connector_live_lag_seconds",
      labels: 'kind="user"',
    },
  };
  const entries = Object.entries(sources) as [HopName, (typeof sources)[HopName]][];
  const scraped = await Promise.all(
    entries.map(async ([hop, source]) => {
      const text = source.url ? await fetchMetricsText(source.url) : "";
      return [hop, parseBuckets(text, source.name, source.labels)] as const;
    }),
  );
  return new Map(scraped);
}

/** Waits (up to a minute) until persistence has receipted `total` more acks than `before`; returns how many. */
async function acksSince(rig: HeraldRig, before: number, total: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  let acked = (await rig.acksReceipted()) - before;
  while (!(acked >= total) && Date.now() < deadline) {
    await sleep(100);
    acked = (await rig.acksReceipted()) - before;
  }
  return acked;
}

/**
 * Latency at an offered rate. No receipt subscriber here (a backend rarely wants one per message, and it would
 * load the shared cores): persistence's receipt counter shows every message was acked.
 */
async function measureLatency(rig: HeraldRig, phase: number, rate: number): Promise<HeraldLatency> {
  const { o, pool, receipts, publish, log } = rig;
  const total = Math.round(rate * o.latencySeconds);
  await pool.reset({ phase, messages: total, recordLatencies: true });
  receipts.pause();
  const acksBefore = await rig.acksReceipted();
  let publishErrors = 0;
  const hopsBefore = await hopBuckets(rig);
  const pacedCpu = await meterCpu(rig);
  const pacedStart = nowUs();
  await paced(rate, o.latencySeconds * 1000, (i) => {
    publish(phase, i, o.latencyClient).catch(() => {
      publishErrors++;
    });
  });
  const pacedCpuSeconds = await pacedCpu();
  const pacedSeconds = (nowUs() - pacedStart) / 1e6;
  const delivered = await pool.waitForAll(total, { idleMs: 10_000, timeoutMs: 120_000 });
  const acked = await acksSince(rig, acksBefore, total);
  receipts.resume();
  const hopsAfter = await hopBuckets(rig);
  const hops: Partial<Record<HopName, HopLag>> = {};
  for (const [hop, after] of hopsAfter) {
    const lag = hopLag(bucketsDelta(hopsBefore.get(hop) ?? new Map(), after));
    if (lag) hops[hop] = lag;
  }
  const withLatencies = await pool.stats(true);
  const run: HeraldLatency = {
    offeredRate: rate,
    durationMs: o.latencySeconds * 1000,
    messages: total,
    delivered: delivered.unique,
    duplicates: delivered.duplicates,
    achievedMsgsPerSec: perSecond(delivered.unique, delivered.lastUs - pacedStart),
    receipts: acked,
    publishErrors,
    latencyMs: summarizeLatencies(withLatencies.latencies),
    stages: {
      publishToStoredMs: summarizeLatencies(withLatencies.stages.toStored),
      storedToReceivedMs: summarizeLatencies(withLatencies.stages.fromStored),
    },
    hops,
    cpuMicrosPerMessage: perMessage(pacedCpuSeconds, total),
    machineBusyCores: busyCores(pacedCpuSeconds, pacedSeconds),
  };
  log(
    `herald: p50 ${run.latencyMs.p50} ms, p99 ${run.latencyMs.p99} ms at ${rate} msg/s; ` +
      `${run.machineBusyCores} cores busy, ${run.cpuMicrosPerMessage.total} µs CPU per message`,
  );
  return run;
}

/**
 * The offered-load ladder (issue 14), open loop with the latency run's publisher and no receipt subscriber: a
 * step passes when every message is delivered and acked (persistence's counter) in time.
 */
async function climbLadder(rig: HeraldRig): Promise<LadderResult> {
  const { o, pool, receipts, publish, log } = rig;
  receipts.pause();
  const herald: LadderSender = {
    offer: pacedOffer((phase, i) => publish(phase, i, o.latencyClient)),
    acked: rig.acksReceipted,
    processes: serverPids(rig),
  };
  const ladder = await climbWith(pool, o, herald, { next: 100 }, (line) => log(`herald ladder: ${line}`));
  receipts.resume();
  return ladder;
}
