import { DEFAULT_PREFIX, subjects, userToken } from "@herald/protocol";
import { type NatsServer, type Service, signToken, startStack } from "@herald/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { nowUs, sleep } from "./clock.js";
import { type BenchOptions, jsonEnv, serviceNodeOptionsEnv } from "./options.js";
import { paced } from "./pacing.js";
import { cpuMeter, scrapeHeraldMetrics } from "./procfs.js";
import { loadAverage1m } from "./results.js";
import { presenceExact, scaleSourceAddress } from "./scale-run.js";
import {
  analyseStorm,
  type StormAnalysis,
  type StormCpu,
  type StormPublished,
  stormCpu,
} from "./storm-analysis.js";
import type { StormConnectParams, StormReport, StormStatus } from "./storm-client-worker.js";
import { startWorker, type Worker, WorkerError } from "./worker.js";

/** Connector 0 killed with SIGKILL under load; its clients back on the survivors with their backlog. */
export type StormResult = {
  clients: number;
  connectors: number;
  clientProcesses: number;
  /** Messages per second published to the clients' users (round-robin) from before the kill to the end. */
  rate: number;
  initialConnectSeconds: number;
  analysis: StormAnalysis;
  messages: { published: number; acked: number; publishErrors: number; duplicatesSeenByApp: number };
  /** Upgrades the survivors refused during the storm, by reason (their metrics). */
  refusals: Record<string, number>;
  /** Replay pages persistence served after the kill, and how many failed (more pages than clients: retries). */
  replay: { pages: number; errors: number };
  /** Why the clients' connections ended after the kill (close code and reason), the commonest first. */
  endings: Record<string, number>;
  presence: { users: number; connections: number; exact: boolean; secondsAfterKill: number | null };
  /** The limits in force: the connector's admission env (empty: its defaults) and the SDK's backoff. */
  limits: { connectorEnv: Record<string, string>; sdk: string };
  loadAverage: [number, number];
  /** CPU from the kill until every client was back (absent in results recorded before it was measured). */
  cpu?: StormCpu;
  /** The same storm with raw `ws` servers and bare `ws` clients (same load generator and backoff), run first. */
  rawWs?: RawStormResult;
};

/** The harness's floor: plain `ws` servers (no auth, no NATS, no backlog), one killed, its clients reconnecting. */
export type RawStormResult = {
  clients: number;
  servers: number;
  initialConnectSeconds: number;
  allReconnectedMs: number | null;
  reconnectMs: StormAnalysis["reconnectMs"];
  noticedMs: StormAnalysis["noticedMs"];
  attempts: StormAnalysis["attempts"];
  loadAverage: [number, number];
  /** CPU from the kill until every client was back. */
  cpu?: StormCpu;
};

const CONNECTORS = 4;
// Small shares: the load generators must not be what slows the storm on a busy machine.
const CLIENTS_PER_PROC = 2_500;
/** Publishing runs this long before the kill, and this long after it. */
const BEFORE_KILL_MS = 5_000;
const AFTER_KILL_MS = 25_000;
/** The storm gets this long to settle before the part gives up on stragglers. */
const RECONNECT_DEADLINE_MS = 90_000;
/** After that, this long for the backlog to arrive: what is still missing then is counted lost. */
const CATCH_UP_DEADLINE_MS = 150_000;

/** Env of the storm's connectors (`BENCH_STORM_CONNECTOR_ENV` as JSON, to compare settings). */
const connectorEnv = () => jsonEnv("BENCH_STORM_CONNECTOR_ENV");

function startStormPool(count: number, mode: "herald" | "raw" = "herald") {
  const workers: Worker[] = Array.from({ length: Math.max(1, Math.ceil(count / CLIENTS_PER_PROC)) }, () =>
    startWorker("storm-client-worker"),
  );
  const all = <T>(method: string, params?: unknown) =>
    Promise.all(workers.map((w) => w.call<T>(method, params)));
  return {
    processes: workers.length,
    pids: workers.map((w) => w.pid),
    connect: async (base: Omit<StormConnectParams, "clients">, tokens: string[]) => {
      const results = await Promise.all(
        workers.map((worker, w) => {
          const clients: StormConnectParams["clients"] = [];
          for (let k = w; k < count; k += workers.length)
            clients.push({ user: k, token: tokens[k] ?? "", localAddress: scaleSourceAddress(k) });
          return worker.call<{ connected: number; failed: number; error?: string }>("connect", {
            ...base,
            clients,
            mode,
          });
        }),
      );
      const failed = results.reduce((sum, r) => sum + r.failed, 0);
      if (failed > 0)
        throw new WorkerError(`${failed} storm clients failed: ${results.find((r) => r.error)?.error}`);
    },
    status: async (sinceUs: number) => {
      const parts = await all<StormStatus>("status", { sinceUs });
      return parts.reduce((a, b) => ({
        clients: a.clients + b.clients,
        connected: a.connected + b.connected,
        reconnectedSince: a.reconnectedSince + b.reconnectedSince,
      }));
    },
    report: (sinceUs: number) => all<StormReport>("report", { sinceUs }),
    firstDeliveries: async () => (await all<number>("firstDeliveries")).reduce((a, b) => a + b, 0),
    close: () => all("close"),
    stop: () => Promise.all(workers.map((w) => w.stop())),
  };
}

/** Publishes `rate`/s to user `seq % users` for `durationMs`, recording each publish time and PubAck. */
function startPublisher(
  nc: NatsConnection,
  users: string[],
  rate: number,
  durationMs: number,
  runId: string,
) {
  const s = subjects(DEFAULT_PREFIX);
  const js = jetstream(nc);
  const total = Math.round((rate * durationMs) / 1000);
  const published: StormPublished = {
    users: users.length,
    pubUs: new Float64Array(total),
    acked: new Uint8Array(total),
  };
  let errors = 0;
  const pending: Promise<unknown>[] = [];
  const done = paced(rate, durationMs, (seq) => {
    published.pubUs[seq] = nowUs();
    const user = users[seq % users.length] ?? "";
    pending.push(
      js
        .publish(s.sendUser(userToken(user)), JSON.stringify({ data: { s: seq } }), {
          msgID: `storm-${runId}-${seq}`,
          timeout: 30_000,
        })
        .then(
          () => {
            published.acked[seq] = 1;
          },
          () => {
            errors++;
          },
        ),
    );
  }).then(async (sent) => {
    await Promise.all(pending);
    return sent;
  });
  return { published, done, errors: () => errors };
}

function topEndings(reports: StormReport[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const r of reports) for (const [why, n] of Object.entries(r.endings)) sum[why] = (sum[why] ?? 0) + n;
  return Object.fromEntries(
    Object.entries(sum)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8),
  );
}

function refusalsOf(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const match = /^herald_connector_auth_refused_total\{.*reason="([^"]+)"/.exec(key);
    if (!match?.[1]) continue;
    const delta = value - (before[key] ?? 0);
    if (delta > 0) out[match[1]] = (out[match[1]] ?? 0) + delta;
  }
  return out;
}

/** Replay pages persistence served (and failed) between two scrapes: more pages than clients means retries. */
function replayLoad(before: Record<string, number>, after: Record<string, number>) {
  const delta = (match: (key: string) => boolean) =>
    Object.entries(after)
      .filter(([key]) => match(key))
      .reduce((sum, [key, value]) => sum + value - (before[key] ?? 0), 0);
  return {
    pages: delta((key) => key.startsWith("herald_persistence_replay_pages_total")),
    errors: delta((key) => key.startsWith("herald_handler_errors_total") && key.includes("replay")),
  };
}

async function survivorMetrics(survivors: Service[]): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const metrics of await Promise.all(survivors.map((s) => scrapeHeraldMetrics(s.adminUrl))))
    for (const [key, value] of Object.entries(metrics)) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

function startStormStack(nats: NatsServer, connectorEnv: Record<string, string>) {
  // `BENCH_SERVICE_NODE_OPTIONS=--cpu-prof` profiles the services (the victim writes none).
  return startStack({
    nats,
    replicas: CONNECTORS,
    env: { HERALD_PREFIX: DEFAULT_PREFIX, ...serviceNodeOptionsEnv() },
    envFor: { connector: connectorEnv },
    serviceOptions: { startTimeoutMs: 90_000 },
    readyTimeoutMs: 90_000,
  });
}

/**
 * Presence's count once it is exact (or after a minute), and how long after the kill that was. Asked from the
 * moment every client is back (before it, the victim's stale entries would make the count look exact), every
 * 250 ms, while the messages still flow.
 */
async function presenceAfter(nc: NatsConnection, count: number, killUs: number) {
  const presence = await presenceExact(nc, count, 60_000, 250);
  return {
    users: presence.users,
    connections: presence.connections,
    exact: presence.exact,
    secondsAfterKill: presence.exact ? Math.round((nowUs() - killUs) / 1e4) / 100 : null,
  };
}

/**
 * Polls the clients until every PubAcked message reached its client (or CATCH_UP_DEADLINE_MS passed). The
 * catch-up is timed from the clients' own receive times, so the polls only say when to stop; while the count of
 * first deliveries is short of the PubAcked messages, the poll is that count (a full report of 15,000 clients,
 * sent between processes and analysed, would take CPU from the catch-up it measures).
 */
async function awaitCatchUp(
  pool: StormPool,
  published: Parameters<typeof analyseStorm>[1],
  killUs: number,
  log: (line: string) => void,
) {
  const deadline = nowUs() + CATCH_UP_DEADLINE_MS * 1_000;
  const acked = published.acked.reduce((sum, a) => sum + a, 0);
  let logged = 0;
  for (;;) {
    // A message stored though its PubAck was lost also counts, so an equal count is checked by the report.
    const missing = acked - (await pool.firstDeliveries());
    const due = nowUs() >= deadline;
    if (missing <= 0 || due) {
      const reports = await pool.report(killUs);
      const analysis = analyseStorm(
        killUs,
        published,
        reports.flatMap((r) => r.clients),
      );
      if (analysis.lost === 0 || due) return { reports, analysis };
    }
    const sinceKill = Math.floor((nowUs() - killUs) / 1e7) * 10;
    if (sinceKill > logged) {
      logged = sinceKill;
      log(`storm: ${sinceKill} s after the kill, ${Math.max(missing, 1)} messages not delivered yet`);
    }
    // Past an equal count (a report found some still missing), the polls are reports: once a second.
    await sleep(missing > 0 ? 250 : 1_000);
  }
}

/** Starts metering `pids` (a kind with several processes numbered: `connector0`…); see `stormCpu`. */
async function meterStorm(pids: Record<string, number | undefined>) {
  const done = await cpuMeter(pids);
  const startUs = nowUs();
  return async (clients: number) => stormCpu(await done(), (nowUs() - startUs) / 1e6, clients);
}

const numbered = (kind: string, pids: (number | undefined)[]) =>
  Object.fromEntries(pids.map((pid, i) => [`${kind}${i}`, pid]));

type StormStack = Awaited<ReturnType<typeof startStormStack>>;
type StormPool = ReturnType<typeof startStormPool>;

/** Connects one client per user to the victim (connector 0), each told the survivors' ports; the seconds it took. */
async function connectToVictim(
  stack: StormStack,
  survivors: Service[],
  pool: StormPool,
  users: string[],
): Promise<number> {
  const tokens = await Promise.all(users.map((sub) => signToken({ sub, did: "bench" }, stack.jwtSecret)));
  const started = nowUs();
  await pool.connect(
    { url: stack.wsUrl(undefined, 0), survivorPorts: survivors.map((s) => s.port), concurrency: 16 },
    tokens,
  );
  return Math.round((nowUs() - started) / 1e4) / 100;
}

/** Starts metering every process of the storm but the victim: nats-server, the services, the load generators. */
function meterSurvivors(nats: NatsServer, stack: StormStack, survivors: Service[], pool: StormPool) {
  return meterStorm({
    "nats-server": nats.pid(),
    ...numbered(
      "connector",
      survivors.map((s) => s.pid),
    ),
    persistence: stack.persistence[0]?.pid,
    router: stack.routers[0]?.pid,
    presence: stack.presence[0]?.pid,
    ...numbered("clients", pool.pids),
  });
}

/** Polls the pool until every client reconnected after `killUs` (or RECONNECT_DEADLINE_MS passed). */
async function awaitReconnected(pool: StormPool, count: number, killUs: number) {
  while ((nowUs() - killUs) / 1000 < RECONNECT_DEADLINE_MS) {
    if ((await pool.status(killUs)).reconnectedSince >= count) return;
    await sleep(250);
  }
}

/**
 * The raw `ws` baseline of the storm: as many plain `ws` servers as connectors (`ws-server-worker`), the same
 * number of clients on the first, which is killed (SIGKILL); bare `ws` clients with the SDK's backoff find the
 * others. No messages: it measures what reconnecting alone costs on this machine with this load generator.
 */
export async function runRawStorm(count: number, log: (line: string) => void): Promise<RawStormResult> {
  const loadStart = loadAverage1m();
  const servers = Array.from({ length: CONNECTORS }, () => startWorker("ws-server-worker"));
  const pool = startStormPool(count, "raw");
  try {
    const ports = await Promise.all(servers.map((s) => s.call<{ port: number }>("listen")));
    const [victim, ...survivors] = ports.map((p) => p.port);
    const started = nowUs();
    await pool.connect({ url: `ws://127.0.0.1:${victim}/`, survivorPorts: survivors, concurrency: 16 }, []);
    const initialConnectSeconds = Math.round((nowUs() - started) / 1e4) / 100;
    await sleep(BEFORE_KILL_MS);
    const cpu = await meterStorm({
      ...numbered(
        "server",
        servers.slice(1).map((s) => s.pid),
      ),
      ...numbered("clients", pool.pids),
    });
    const killUs = nowUs();
    // pid 0 would signal this whole process group: a server without one is a failed part.
    const victimPid = servers[0]?.pid;
    if (!victimPid) throw new WorkerError("the raw ws victim server has no pid");
    process.kill(victimPid, "SIGKILL");
    await awaitReconnected(pool, count, killUs);
    const cpuUsed = await cpu(count);
    const reports = await pool.report(killUs);
    const none = { users: count, pubUs: new Float64Array(0), acked: new Uint8Array(0) };
    const a = analyseStorm(
      killUs,
      none,
      reports.flatMap((r) => r.clients),
    );
    log(
      `storm (raw ws): ${count} clients back on ${survivors.length} servers after ${a.allReconnectedMs ?? "-"} ms`,
    );
    return {
      clients: count,
      servers: CONNECTORS,
      initialConnectSeconds,
      allReconnectedMs: a.allReconnectedMs,
      reconnectMs: a.reconnectMs,
      noticedMs: a.noticedMs,
      attempts: a.attempts,
      loadAverage: [loadStart, loadAverage1m()],
      cpu: cpuUsed,
    };
  } finally {
    await pool.close().catch(() => undefined);
    await pool.stop().catch(() => undefined);
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  }
}

/**
 * `--storm-clients` SDK clients on connector 0 of 4, messages flowing to their users at `--storm-rate`; then
 * connector 0 is killed (SIGKILL) and the clients find the survivors by themselves.
 */
export async function runStorm(
  nats: NatsServer,
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<StormResult> {
  const count = o.stormClients;
  const loadStart = loadAverage1m();
  const env = connectorEnv();
  const stack = await startStormStack(nats, env);
  const pool = startStormPool(count);
  let nc: NatsConnection | undefined;
  try {
    // No async stack traces: an Error object per publish, in the process that shares the storm's 2 cores.
    nc = await connect({ servers: nats.url, noAsyncTraces: true });
    const [victim, ...survivors] = stack.connectors;
    if (!victim) throw new Error("no connector");
    const users = Array.from({ length: count }, (_, k) => `st-u${k}`);
    const initialConnectSeconds = await connectToVictim(stack, survivors, pool, users);
    log(`storm: ${count} clients on the victim in ${initialConnectSeconds} s`);
    const publisher = startPublisher(nc, users, o.stormRate, BEFORE_KILL_MS + AFTER_KILL_MS, runId);
    await sleep(BEFORE_KILL_MS);
    const metricsBefore = await survivorMetrics(survivors);
    const persistenceBefore = await survivorMetrics(stack.persistence);
    const cpu = await meterSurvivors(nats, stack, survivors, pool);
    const killUs = nowUs();
    await victim.kill();
    log("storm: victim killed");
    await awaitReconnected(pool, count, killUs);
    const cpuUsed = await cpu(count);
    const presenceExactly = presenceAfter(nc, count, killUs);
    const sent = await publisher.done;
    // Deliveries of the last messages: until each acked one arrived (or a deadline).
    const acked = () => publisher.published.acked.reduce((a, b) => a + b, 0);
    const { reports, analysis } = await awaitCatchUp(pool, publisher.published, killUs, log);
    const refusals = refusalsOf(metricsBefore, await survivorMetrics(survivors));
    const replay = replayLoad(persistenceBefore, await survivorMetrics(stack.persistence));
    log(`storm: persistence served ${replay.pages} replay pages after the kill, ${replay.errors} failed`);
    log(
      `storm: all reconnected after ${analysis.allReconnectedMs ?? "-"} ms, caught up after ${analysis.allCaughtUpMs ?? "-"} ms, lost ${analysis.lost}, refusals ${JSON.stringify(refusals)}`,
    );
    const presenceAfterKill = await presenceExactly;
    log(`storm: presence ${presenceAfterKill.users} users, ${presenceAfterKill.connections} connections`);
    return {
      clients: count,
      connectors: CONNECTORS,
      clientProcesses: pool.processes,
      rate: o.stormRate,
      initialConnectSeconds,
      analysis,
      messages: {
        published: sent,
        acked: acked(),
        publishErrors: publisher.errors(),
        duplicatesSeenByApp: reports.reduce((sum, r) => sum + r.duplicates, 0),
      },
      refusals,
      replay,
      endings: topEndings(reports),
      presence: presenceAfterKill,
      limits: { connectorEnv: env, sdk: "HeraldClient defaults (full jitter, 500 ms initial, 30 s max)" },
      loadAverage: [loadStart, loadAverage1m()],
      cpu: cpuUsed,
    };
  } finally {
    await nc?.close().catch(() => undefined);
    await pool.close().catch(() => undefined);
    await pool.stop().catch(() => undefined);
    await stack.stop().catch(() => undefined);
  }
}

/** The storm part: the raw `ws` baseline first (the harness's floor in the same run), then Herald's storm. */
export async function runStormPart(
  nats: NatsServer,
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<StormResult> {
  const rawWs = await runRawStorm(o.stormClients, log);
  return { ...(await runStorm(nats, o, runId, log)), rawWs };
}
