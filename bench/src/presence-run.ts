import { writeFileSync } from "node:fs";
import { setPriority } from "node:os";
import { subjects } from "@herald/protocol";
import { type Service, startNatsServer, startService, waitUntil } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { nowUs, sleep } from "./clock.js";
import type { ChurnResult } from "./presence-connectors-worker.js";
import { heapAfterGc, inspectorUrl, startCpuProfile } from "./presence-inspector.js";
import type { PresenceBenchResults, PresenceOptions, PresenceWireResults } from "./presence-report.js";
import {
  measureWire,
  WIRE_BEATS,
  WIRE_SMALL_SIZE,
  type WireDeps,
  wireLegacyHoldMs,
} from "./presence-wire.js";
import { cpuMeter, fetchMetricsText, parseHeraldMetrics, rssBytes, scrapeHeraldMetrics } from "./procfs.js";
import { summarizeLatencies } from "./stats.js";
import { startWorker } from "./worker.js";

const log = (line: string) => console.log(`[presence ${new Date().toISOString().slice(11, 19)}] ${line}`);

async function memoryOf(service: Service) {
  const url = inspectorUrl(service.logs());
  if (!url) throw new Error("presence printed no inspector URL");
  const heap = await heapAfterGc(url);
  return { heapUsed: heap.heapUsed, rss: await rssBytes(service.pid ?? 0) };
}

/** The presence process's event-loop delay p99 and max (ms) since the previous scrape, from its metrics page. */
function eventLoopLag(text: string): { p99: number | null; max: number | null } {
  const read = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
    return match?.[1] ? Math.round(Number(match[1]) * 1e5) / 100 : null;
  };
  return {
    p99: read("herald_nodejs_eventloop_lag_p99_seconds"),
    max: read("herald_nodejs_eventloop_lag_max_seconds"),
  };
}

/** Change of every series of `name` (any labels) between two scrapes, summed. */
function delta(before: Record<string, number>, after: Record<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of Object.entries(after)) {
    if (key === name || key.startsWith(`${name}{`)) sum += value - (before[key] ?? 0);
  }
  return sum;
}

async function count(nc: NatsConnection, subject: string) {
  const reply = await nc.request(subject, "{}", { timeout: 10_000 });
  return reply.json<{ users: number; connections: number; connectors: Record<string, unknown> }>();
}

/**
 * `presence.get` of random filled users, paced at `perSecond`, until `until()`: latencies in µs, and how
 * many requests failed (timeout or error reply).
 */
async function queryLoop(
  nc: NatsConnection,
  subject: string,
  users: number,
  perSecond: number,
  until: () => boolean,
) {
  const latencies: number[] = [];
  let failed = 0;
  const started = performance.now();
  for (let i = 0; !until(); i++) {
    const wait = started + (i * 1000) / perSecond - performance.now();
    if (wait > 0) await sleep(wait);
    const userId = `user-${Math.floor(Math.random() * users)}`;
    const t0 = nowUs();
    try {
      const reply = await nc.request(subject, JSON.stringify({ userId }), { timeout: 5_000 });
      const body = reply.json<{ online?: boolean }>();
      if (body.online !== true) failed++;
      latencies.push(nowUs() - t0);
    } catch {
      failed++;
    }
  }
  return { latencies, failed };
}

type Worker = ReturnType<typeof startWorker>;
type Subjects = ReturnType<typeof subjects>;

/** What the fill and load phases share: the NATS client, the presence process and the simulated connectors. */
type PresenceRig = {
  o: PresenceOptions;
  s: Subjects;
  nc: NatsConnection;
  presence: Service;
  workers: Worker[];
  nats: { pid: () => number | undefined };
  /** How long the simulated connectors keep sending full heartbeats in the wire phases' "as before" mode. */
  legacyHoldMs: number;
};

/**
 * The presence benchmark: one real presence process, `connectors` simulated connectors (one worker process
 * each, publishing exactly the connector's reports) holding `connections` in all, then, for `churnSeconds`,
 * `churnRate` opens+closes per second while a client queries `presence.get` and another one times every
 * online/offline event against its report's publish time.
 */
export async function runPresenceBench(o: PresenceOptions): Promise<PresenceBenchResults> {
  const s = subjects();
  // Measured as before NATS permissions existed (issue 13): its raw NATS clients connect without identities.
  const nats = await startNatsServer({ auth: false });
  // One process per simulated connector, as real connectors are: one's heartbeat serialization does not
  // hold back another's reports.
  const workers = Array.from({ length: o.connectors }, () => startWorker("presence-connectors-worker"));
  let presence: Service | undefined;
  let nc: NatsConnection | undefined;
  try {
    presence = await startPresence(nats, o, workers);
    nc = await connect({ servers: nats.url, noAsyncTraces: true, name: "presence-bench" });
    const legacyHoldMs = wireLegacyHoldMs(o.heartbeatMs, WIRE_BEATS);
    const rig: PresenceRig = { o, s, nc, presence, workers, nats, legacyHoldMs };
    const connectorIds = await startConnectors(rig, nats.url);
    const empty = await memoryOf(presence);
    log(`presence up, ${connectorIds.length} connectors; heap ${(empty.heapUsed / 1e6).toFixed(1)} MB`);
    const fill = await fillAndMeasureWire(rig, empty.heapUsed);
    const load = await loadPhase(rig, fill.users);
    const final = await count(nc, s.presenceCount);
    const perConnection = (a: number, b: number) => Math.round((b - a) / o.connections);
    return {
      connections: o.connections,
      users: fill.users,
      connectors: o.connectors,
      fillSeconds: Math.round(fill.seconds * 10) / 10,
      memory: {
        heapEmptyBytes: empty.heapUsed,
        heapFullBytes: fill.memory.heapUsed,
        heapBytesPerConnection: perConnection(empty.heapUsed, fill.memory.heapUsed),
        rssEmptyBytes: empty.rss,
        rssFullBytes: fill.memory.rss,
        rssBytesPerConnection: perConnection(empty.rss, fill.memory.rss),
      },
      ...load,
      trackedAfterChurn: final.connections,
      wire: fill.wire,
    };
  } finally {
    await Promise.all(workers.map((w) => w.call("stop").catch(() => {})));
    await Promise.all(workers.map((w) => w.stop()));
    await nc?.close();
    await presence?.stop().catch(() => presence?.kill());
    await nats.dispose();
  }
}

/** The real presence process (with an inspector, to force a GC before reading its heap), ready. */
async function startPresence(
  nats: { url: string; pid: () => number | undefined },
  o: PresenceOptions,
  workers: Worker[],
): Promise<Service> {
  const presence = await startService(
    "presence",
    {
      NATS_URL: nats.url,
      // The inspector is only used to force a GC before reading the heap (the memory figure).
      NODE_OPTIONS: "--inspect=127.0.0.1:0",
      PRESENCE_SYNC_WAIT: "1s",
    },
    // A shared, busy machine can take longer than the default 20 s to start a process.
    { startTimeoutMs: 90_000 },
  );
  await presence.waitReady();
  if (o.nice !== 0) {
    for (const pid of [presence.pid, nats.pid(), ...workers.map((w) => w.pid), process.pid]) {
      if (pid !== undefined) setPriority(pid, o.nice);
    }
  }
  return presence;
}

/** Starts one simulated connector per worker and waits until presence knows them all. */
async function startConnectors(
  { o, s, nc, workers, legacyHoldMs }: PresenceRig,
  natsUrl: string,
): Promise<string[]> {
  const started = await Promise.all(
    workers.map((w) =>
      w.call<{ connectorIds: string[] }>("start", {
        natsUrl,
        connectors: 1,
        heartbeatMs: o.heartbeatMs,
        legacyHoldMs,
      }),
    ),
  );
  await waitUntil(
    async () => Object.keys((await count(nc, s.presenceCount)).connectors).length === o.connectors,
    {
      message: "every simulated connector known to presence",
    },
  );
  return started.flatMap((r) => r.connectorIds);
}

/** Opens connections `from`..`to` (exclusive), shared out over the simulated connectors. */
function fillRange({ o, workers }: PresenceRig, from: number, to: number) {
  const share = Math.ceil((to - from) / o.connectors);
  return Promise.all(
    workers.map((w, k) =>
      w.call<{ connections: number; users: number }>("fill", {
        total: Math.max(0, Math.min(share, to - from - k * share)),
        batch: 5_000,
        offset: from + k * share,
      }),
    ),
  );
}

/**
 * Fills presence to `connections`, measuring the bytes per beat at a small size and at the full one, and the
 * heap once full. Churn of the wire phases leaves a few connections open: presence must count them too.
 */
async function fillAndMeasureWire(rig: PresenceRig, emptyHeap: number) {
  const { o, s, nc, presence } = rig;
  const started = performance.now();
  const wire: PresenceWireResults = {
    heartbeatMs: o.heartbeatMs,
    beatsPerPhase: WIRE_BEATS,
    phases: [],
    exact: [],
    beatMismatches: 0,
    gaps: 0,
  };
  const wireBefore = await scrapeHeraldMetrics(presence.adminUrl);
  let extra = 0;
  const measureAt = async (connections: number) => {
    extra += await measureWireAt(rig, wire, connections, extra);
  };
  const small = Math.min(WIRE_SMALL_SIZE, o.connections);
  await fillRange(rig, 0, small);
  if (small < o.connections) {
    await waitUntil(async () => (await count(nc, s.presenceCount)).connections === small, {
      timeoutMs: 60_000,
      message: `${small} connections tracked`,
    });
    await measureAt(small);
  }
  await fillRange(rig, small, o.connections);
  // User ids follow the connection index (1.5 connections per user), so a user may span two connectors.
  const users = Math.ceil(o.connections / 1.5);
  await waitUntil(async () => (await count(nc, s.presenceCount)).connections === o.connections + extra, {
    timeoutMs: 60_000,
    message: `${o.connections} connections tracked`,
  });
  const seconds = (performance.now() - started) / 1000;
  log(`${o.connections} connections of ${users} users tracked in ${seconds.toFixed(1)} s`);
  // Two heartbeat rounds of 25k connections per connector have gone through before memory is read.
  await sleep(2 * o.heartbeatMs);
  const memory = await memoryOf(presence);
  const perConnection = Math.round((memory.heapUsed - emptyHeap) / o.connections);
  log(`heap ${(memory.heapUsed / 1e6).toFixed(1)} MB: ${perConnection} B/connection`);
  await measureAt(o.connections);
  const wireAfter = await scrapeHeraldMetrics(presence.adminUrl);
  wire.beatMismatches = delta(wireBefore, wireAfter, "herald_presence_beat_mismatches_total");
  wire.gaps = delta(wireBefore, wireAfter, "herald_presence_report_gaps_total");
  return { users, seconds, memory, wire };
}

/** Bytes per beat at `connections` (beats, then full heartbeats as before); returns the connections left open. */
async function measureWireAt(
  { o, s, nc, workers, legacyHoldMs }: PresenceRig,
  wire: PresenceWireResults,
  connections: number,
  extraBefore: number,
): Promise<number> {
  log(`bytes per beat at ${connections} connections (beats, then full heartbeats as before)`);
  const deps: WireDeps = { nc, s, workers, heartbeatMs: o.heartbeatMs, beats: WIRE_BEATS };
  const measured = await measureWire(deps, connections, legacyHoldMs);
  wire.phases.push(...measured.phases);
  const expected = connections + extraBefore + measured.leftOpen;
  const tracked = await waitUntil(
    async () => {
      const n = (await count(nc, s.presenceCount)).connections;
      return n === expected ? n : undefined;
    },
    { timeoutMs: 4 * o.heartbeatMs, message: "" },
  ).catch(async () => (await count(nc, s.presenceCount)).connections);
  wire.exact.push({ connections, expected, tracked });
  for (const p of measured.phases)
    log(`  ${p.mode}, ${p.changesPerBeat} changes: ${p.bytesPerBeat} B/beat (${p.messagesPerBeat} messages)`);
  return measured.leftOpen;
}

/** Online/offline events of the churn users as they arrive, by `<user> <type>`: when, and presence's `at`. */
function recordEvents(nc: NatsConnection, s: Subjects) {
  const received = new Map<string, number>();
  /** The event's `at`: when presence applied the report (ms epoch), to split the lag around presence. */
  const emittedAt = new Map<string, number>();
  const subscription = nc.subscribe(s.presenceEventAll, {
    callback: (err, msg) => {
      if (err) return;
      const at = nowUs();
      const event = msg.json<{ type: string; userId: string; at: number }>();
      if (!event.userId.startsWith("churn-")) return;
      received.set(`${event.userId} ${event.type}`, at);
      emittedAt.set(`${event.userId} ${event.type}`, event.at);
    },
  });
  return { received, emittedAt, subscription };
}

/** Every simulated connector churns at its share of the rate for `churnSeconds`. */
async function churnAll({ o, workers }: PresenceRig) {
  const results = await Promise.all(
    workers.map((w, k) =>
      w.call<ChurnResult>("churn", {
        opsPerSecond: o.churnRate / o.connectors,
        seconds: o.churnSeconds,
        minAgeMs: 1_000,
        userPrefix: `churn-${k}-`,
      }),
    ),
  );
  return {
    published: results.flatMap((r) => r.published),
    opens: results.reduce((n, r) => n + r.opens, 0),
    closes: results.reduce((n, r) => n + r.closes, 0),
  };
}

/** The load phase: churn, queries and event timing, all at once. */
async function loadPhase(rig: PresenceRig, users: number) {
  const { o, s, nc, presence, workers, nats } = rig;
  const events = recordEvents(nc, s);
  // Scraping resets prom-client's event-loop delay histogram: the figures after cover the load phase only.
  const metricsBefore = await scrapeHeraldMetrics(presence.adminUrl);
  const cpu = await cpuMeter({
    presence: presence.pid,
    "nats-server": nats.pid(),
    ...Object.fromEntries(workers.map((w, k) => [`connector-sim-${k}`, w.pid])),
  });
  const profilePath = process.env.BENCH_PRESENCE_PROFILE;
  const stopProfile = profilePath ? await startCpuProfile(inspectorUrl(presence.logs()) ?? "") : undefined;
  let churning = true;
  const churnPromise = churnAll(rig).finally(() => {
    churning = false;
  });
  const queries = await queryLoop(nc, s.presenceGet, users, o.queryRate, () => !churning);
  const churn = await churnPromise;
  await waitUntil(() => events.received.size >= churn.published.length, {
    timeoutMs: 5_000,
    message: () => `${churn.published.length} churn events; got ${events.received.size}`,
  }).catch(() => {});
  events.subscription.unsubscribe();
  if (stopProfile && profilePath) writeFileSync(profilePath, JSON.stringify(await stopProfile()));
  const used = await cpu();
  // One scrape for both: each one resets the event-loop histogram.
  const afterText = await fetchMetricsText(presence.adminUrl);
  const loop = eventLoopLag(afterText);
  const metricsAfter = parseHeraldMetrics(afterText);
  const lag = eventLags(churn.published, events.received, events.emittedAt);
  const queryLatency = summarizeLatencies(queries.latencies);
  log(
    `query p50 ${queryLatency.p50} ms p99 ${queryLatency.p99} ms; event lag p50 ${lag.summary.p50} p99 ${lag.summary.p99} ms`,
  );
  return {
    query: { ...queryLatency, failed: queries.failed, offeredPerSecond: o.queryRate },
    eventLag: {
      ...lag.summary,
      missing: lag.missing,
      untilPresenceApplied: summarizeLatencies(lag.toPresence),
      opens: churn.opens,
      closes: churn.closes,
      achievedPerSecond: Math.round((churn.opens + churn.closes) / o.churnSeconds),
    },
    cpuSeconds: used,
    presenceMetrics: {
      eventLoopLagP99Ms: loop.p99,
      eventLoopLagMaxMs: loop.max,
      reports: Object.fromEntries(
        Object.entries(metricsAfter)
          .filter(([k]) => k.startsWith("herald_presence_reports_total"))
          .map(([k, v]) => [k, v - (metricsBefore[k] ?? 0)]),
      ),
      gaps: delta(metricsBefore, metricsAfter, "herald_presence_report_gaps_total"),
      heartbeatPartsUnchanged: delta(
        metricsBefore,
        metricsAfter,
        "herald_presence_heartbeat_parts_unchanged_total",
      ),
    },
  };
}

/**
 * Each churn report's lag from its publish to its event (µs, shared monotonic clock) and until presence applied
 * it (the event's `at`, ms clock); the events that never came are counted and the first ten logged.
 */
function eventLags(
  published: ChurnResult["published"],
  received: Map<string, number>,
  emittedAt: Map<string, number>,
) {
  const lags: number[] = [];
  const toPresence: number[] = [];
  let missing = 0;
  const missed: string[] = [];
  const churnStarted = Math.min(...published.map(([, , t]) => t));
  for (const [userId, type, publishedAt, publishedEpoch] of published) {
    const at = received.get(`${userId} ${type}`);
    const emitted = emittedAt.get(`${userId} ${type}`);
    if (emitted !== undefined) toPresence.push((emitted - publishedEpoch) * 1000);
    if (at !== undefined) {
      lags.push(at - publishedAt);
      continue;
    }
    missing++;
    if (missed.length < 10) {
      const other = received.get(`${userId} ${type === "online" ? "offline" : "online"}`);
      missed.push(
        `${userId} ${type} published at +${((publishedAt - churnStarted) / 1e6).toFixed(3)} s; ` +
          `the other event ${other === undefined ? "missing too" : `at +${((other - churnStarted) / 1e6).toFixed(3)} s`}`,
      );
    }
  }
  if (missed.length > 0) log(`events never received: ${missed.join("; ")}`);
  return { summary: summarizeLatencies(lags), toPresence, missing };
}
