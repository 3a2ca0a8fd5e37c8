import { readdir } from "node:fs/promises";
import { DEFAULT_PREFIX, type SendBody, subjects, userToken } from "@herald/protocol";
import { JsPublisher } from "@herald/service-kit";
import { chartProcessEnv, type NatsServer, signToken, startStack } from "@herald/testkit";
import { connect } from "@nats-io/transport-node";
import { sleep } from "./clock.js";
import { FANOUT_CONNECTOR_ENV } from "./fanout-run.js";
import { dataMaker, idPrefix, messageId } from "./frames.js";
import type { IdleConnectParams, IdleConnectResult, IdleMode, IdleTarget } from "./idle-client-worker.js";
import { type BenchOptions, jsonEnv } from "./options.js";
import { dueCount } from "./pacing.js";
import { cpuMeter, rssBytes } from "./procfs.js";
import { ReceiptCounter } from "./receipts.js";
import { loadAverage1m, type MemoryResult, type Skipped } from "./results.js";
import type { ScaleReceived } from "./scale-tally.js";
import type { SioListenParams, SioPacedParams } from "./sio-server-worker.js";
import { startWorker, type Worker, WorkerError } from "./worker.js";
import type { PacedParams } from "./ws-server-worker.js";

/**
 * The same connections while each receives one message per second (targeted; Herald's are acked), read while
 * the messages flow: RSS growth over the server with no clients, per connection.
 */
export type ActiveResult = {
  offeredMsgsPerSec: number;
  seconds: number;
  /** Messages sent (Herald: published) in the phase. */
  messages: number;
  /** Herald: messages received by the clients, and receipts (delivered, acked, ack applied); lost = none. */
  delivered?: number;
  receipted?: number;
  lost?: number;
  /** Herald: sent ÷ the phase's wall time (publishing waits while 2 s of messages are unreceipted). */
  achievedMsgsPerSec?: number;
  /** Herald: the connector's CPU per message published in the phase (what a smaller young generation costs). */
  connectorCpuMicrosPerMessage?: number;
  /** RSS at the last reading before the sends stopped, and the highest reading of the phase. */
  rssBytes: number;
  peakRssBytes: number;
  perConnectionBytes: number;
  peakPerConnectionBytes: number;
};

/**
 * `perConnectionBytes` is read once the server has settled (`SETTLED_MS` after the last client connected: V8's
 * memory reducer has then run in a process that collects at all); `justConnected` is the reading 3 s after.
 */
export type IdleMemory = MemoryResult & {
  justConnected?: { afterMs: number; rssAfterBytes: number; perConnectionBytes: number };
  settledAfterMs?: number;
  active?: ActiveResult | Skipped;
  /** Herald: the connector's `NODE_OPTIONS` (the chart's `connector.nodeOptions` unless the knob replaced them). */
  nodeOptions?: string;
  /** Herald: the connector's `MALLOC_ARENA_MAX` (the chart's `connector.mallocArenaMax` unless the knob replaced it). */
  mallocArenaMax?: string;
};

/** RSS growth per idle connection on one server process of each system, measured one after the other. */
export type IdleResult = {
  connections: number;
  herald: IdleMemory | Skipped;
  ws: IdleMemory | Skipped;
  socketio: IdleMemory | Skipped;
  /** 1-minute load average when the part started and ended. */
  loadAverage: [number, number];
};

/** Connections one load-generator process holds (the fd limit is 20,000 per process). */
const CLIENTS_PER_PROC = 5_000;
/** Source addresses 127.0.0.2 … so 10,000 connections to one port never run short of ephemeral ports. */
const SOURCE_ADDRESSES = 10;
/** How long a server settles before its clients connect, and after, for the first reading. */
const SETTLE_MS = 3_000;
/**
 * When the settled reading is taken after the last client connected. V8 returns the connect storm's young
 * generation and garbage to the OS only when its memory reducer runs (8 s after a full collection, then again),
 * which in the connector came 20–40 s after the connects; raw `ws` and Socket.IO get the same wait.
 */
export const SETTLED_MS = 60_000;

/** Client `k`'s source address. */
export function idleSourceAddress(k: number): string {
  return `127.0.0.${2 + (k % SOURCE_ADDRESSES)}`;
}

/** RSS growth per connection, from a reading with none and one with `connections` idle. */
export function memoryResult(connections: number, before: number, after: number): MemoryResult {
  return {
    connections,
    rssBeforeBytes: before,
    rssAfterBytes: after,
    perConnectionBytes: Math.round((after - before) / connections),
  };
}

export type IdlePoolOptions = {
  /** Connections per load-generator process (default 5,000; the fd limit is 20,000 per process). */
  clientsPerProc?: number;
  /** Count the scale part's messages on each Herald client (`received()`). */
  tally?: boolean;
};

/** Load-generator processes for `count` idle clients; client `k` is held by process `k % processes`. */
export function startIdlePool(count: number, options: IdlePoolOptions = {}) {
  const perProc = options.clientsPerProc ?? CLIENTS_PER_PROC;
  const workers: Worker[] = Array.from({ length: Math.max(1, Math.ceil(count / perProc)) }, () =>
    startWorker("idle-client-worker"),
  );
  return {
    processes: workers.length,
    connect: async (mode: IdleMode, targetOf: (k: number) => IdleTarget) => {
      const results = await Promise.all(
        workers.map((worker, w) => {
          const targets: IdleTarget[] = [];
          for (let k = w; k < count; k += workers.length) targets.push(targetOf(k));
          const params: IdleConnectParams = {
            mode,
            targets,
            concurrency: 32,
            timeoutMs: 30_000,
            ...(options.tally ? { tally: true } : {}),
          };
          return worker.call<IdleConnectResult>("connect", params);
        }),
      );
      const failed = results.reduce((sum, r) => sum + r.failed, 0);
      if (failed > 0) {
        const error = results.find((r) => r.error)?.error;
        throw new WorkerError(`${failed} of ${count} ${mode} clients failed: ${error}`);
      }
    },
    /** Connections the server closed after they were ready: an idle connection must stay. */
    closedEarly: async () =>
      (await Promise.all(workers.map((w) => w.call<number>("closedEarly")))).reduce((a, b) => a + b, 0),
    /** What each process's clients received (`tally`). */
    received: () => Promise.all(workers.map((w) => w.call<ScaleReceived>("received"))),
    /** Herald `message` frames the clients received (and acked). */
    delivered: async () =>
      (await Promise.all(workers.map((w) => w.call<number>("delivered")))).reduce((a, b) => a + b, 0),
    close: () => Promise.all(workers.map((w) => w.call("close"))),
    stop: () => Promise.all(workers.map((w) => w.stop())),
  };
}

type IdlePool = ReturnType<typeof startIdlePool>;

/** Reads the server's RSS, opens every client, lets it settle, reads again; then closes the clients. */
async function measure(
  pool: IdlePool,
  pid: number,
  mode: IdleMode,
  count: number,
  targetOf: (k: number) => IdleTarget,
  afterMeasure?: () => Promise<void>,
  active?: (rssBefore: number) => Promise<ActiveResult>,
): Promise<IdleMemory> {
  await sleep(SETTLE_MS);
  const before = await rssBytes(pid);
  await pool.connect(mode, targetOf);
  await sleep(SETTLE_MS);
  const justConnected = await rssBytes(pid);
  await sleep(SETTLED_MS - SETTLE_MS);
  const after = await rssBytes(pid);
  const closed = await pool.closedEarly();
  if (closed > 0) throw new WorkerError(`${closed} idle ${mode} connections were closed by the server`);
  await afterMeasure?.();
  const activeResult = active ? await activeOrSkipped(() => active(before)) : undefined;
  const closedActive = await pool.closedEarly();
  await pool.close();
  if (closedActive > 0 && activeResult && !("skipped" in activeResult))
    throw new WorkerError(`${closedActive} ${mode} connections were closed by the server while active`);
  return {
    ...memoryResult(count, before, after),
    justConnected: {
      afterMs: SETTLE_MS,
      rssAfterBytes: justConnected,
      perConnectionBytes: memoryResult(count, before, justConnected).perConnectionBytes,
    },
    settledAfterMs: SETTLED_MS,
    ...(activeResult ? { active: activeResult } : {}),
  };
}

async function activeOrSkipped(run: () => Promise<ActiveResult>): Promise<ActiveResult | Skipped> {
  try {
    return await run();
  } catch (error) {
    return { skipped: `failed: ${(error as Error)?.message ?? String(error)}` };
  }
}

/** Reads `pid`'s RSS every 2 s while `run` goes: the last reading before it ended, and the highest. */
async function rssWhile(pid: number, run: () => Promise<void>): Promise<{ last: number; peak: number }> {
  let last = await rssBytes(pid);
  let peak = last;
  let running = true;
  const sampler = (async () => {
    while (running) {
      await sleep(2_000);
      if (!running) break;
      last = await rssBytes(pid);
      peak = Math.max(peak, last);
    }
  })();
  try {
    await run();
  } finally {
    running = false;
    await sampler;
  }
  return { last, peak };
}

/** The active figures from the readings (`before`: the server with no clients). */
function activeResult(
  count: number,
  seconds: number,
  messages: number,
  before: number,
  rss: { last: number; peak: number },
): ActiveResult {
  return {
    offeredMsgsPerSec: count,
    seconds,
    messages,
    rssBytes: rss.last,
    peakRssBytes: rss.peak,
    perConnectionBytes: Math.round((rss.last - before) / count),
    peakPerConnectionBytes: Math.round((rss.peak - before) / count),
  };
}

/** Raw `ws` / Socket.IO: the server sends one message per connection per second itself (no acks). */
async function baselineActive(
  server: Worker,
  count: number,
  o: BenchOptions,
  before: number,
  extra: Record<string, unknown> = {},
): Promise<ActiveResult> {
  let messages = 0;
  const params = {
    phase: 1,
    rate: count,
    durationMs: o.idleActiveSeconds * 1000,
    payloadBytes: o.payloadBytes,
  };
  const rss = await rssWhile(server.pid, async () => {
    messages = await server.call<number>("paced", { ...params, ...extra } as PacedParams | SioPacedParams);
  });
  return activeResult(count, o.idleActiveSeconds, messages, before, rss);
}

/**
 * Herald: one targeted message per connection per second published to the stack, each acked by its client.
 * Publishing waits while 2 s of messages are unreceipted, so a machine too busy to keep up lowers the rate
 * (reported) instead of piling a backlog into the measurement.
 */
async function heraldActive(
  natsUrl: string,
  pool: IdlePool,
  pid: number,
  users: string[],
  o: BenchOptions,
  before: number,
): Promise<ActiveResult> {
  const s = subjects(DEFAULT_PREFIX);
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  const receipts = new ReceiptCounter(nc, s);
  const publisher = new JsPublisher(nc, { timeoutMs: 30_000 });
  try {
    const rate = users.length;
    const total = rate * o.idleActiveSeconds;
    const runId = Date.now().toString(36);
    receipts.reset(idPrefix(runId, 1), total);
    const sendSubjects = users.map((user) => s.sendUser(userToken(user)));
    const make = dataMaker(o.payloadBytes, (data) =>
      JSON.stringify({ id: messageId(runId, 1, 9_999_999), data } satisfies SendBody),
    );
    const encoder = new TextEncoder();
    let sent = 0;
    let errors = 0;
    const cpu = await cpuMeter({ connector: pid });
    const start = performance.now();
    const rss = await rssWhile(pid, async () => {
      while (sent < total) {
        const due = dueCount(rate, performance.now() - start, total);
        while (sent < due && sent - receipts.unique < rate * 2) {
          const id = messageId(runId, 1, sent);
          const payload = encoder.encode(JSON.stringify({ id, data: make(1, sent) } satisfies SendBody));
          publisher.publish(sendSubjects[sent % users.length] ?? "", payload, { msgID: id }).catch(() => {
            errors++;
          });
          sent++;
        }
        await sleep(5);
      }
    });
    const elapsedMs = performance.now() - start;
    await receipts.wait({ idleMs: 15_000, timeoutMs: 120_000 });
    const cpuSeconds = (await cpu()).connector ?? Number.NaN;
    if (errors > 0) throw new WorkerError(`${errors} active-phase publishes failed`);
    return {
      ...activeResult(users.length, o.idleActiveSeconds, total, before, rss),
      delivered: await pool.delivered(),
      receipted: receipts.unique,
      lost: total - receipts.unique,
      achievedMsgsPerSec: Math.round((total * 1000) / elapsedMs),
      connectorCpuMicrosPerMessage: Math.round((cpuSeconds * 1e6) / total),
    };
  } finally {
    receipts.stop();
    publisher.close();
    await nc.close().catch(() => undefined);
  }
}

/**
 * Heap snapshots of the connector with no clients, with all of them idle, and after they received for the active
 * phase (`BENCH_IDLE_HEAP_DIR`; read them with `node bench/experiments/heap-by-constructor.mjs`): the connector
 * then runs with `--heapsnapshot-signal`.
 */
const HEAP_DIR = process.env.BENCH_IDLE_HEAP_DIR;

async function heapSnapshot(pid: number, dir: string): Promise<void> {
  const count = async () => (await readdir(dir)).filter((f) => f.endsWith(".heapsnapshot")).length;
  const had = await count();
  process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + 120_000;
  while ((await count()) === had && Date.now() < deadline) await sleep(250);
  // The file appears when writing starts; give the writer time to finish.
  await sleep(5_000);
}

async function heraldIdle(
  nats: NatsServer,
  pool: IdlePool,
  count: number,
  o: BenchOptions,
): Promise<IdleMemory> {
  // The connector runs with the chart's process env (`chartProcessEnv`, as `startStack` gives it);
  // `BENCH_IDLE_CONNECTOR_NODE_OPTIONS` replaces its `NODE_OPTIONS`, an experiment knob (set but empty: Node's
  // defaults).
  const chart = chartProcessEnv("connector");
  const options = [
    process.env.BENCH_IDLE_CONNECTOR_NODE_OPTIONS ?? chart.NODE_OPTIONS ?? "",
    HEAP_DIR ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${HEAP_DIR}` : "",
  ]
    .join(" ")
    .trim();
  const nodeOptions = { NODE_OPTIONS: options || undefined };
  const extraEnv = jsonEnv("BENCH_IDLE_CONNECTOR_ENV");
  const stack = await startStack({
    nats,
    env: { HERALD_PREFIX: DEFAULT_PREFIX },
    // A machine shared with other work can take longer than the default to start a service.
    serviceOptions: { startTimeoutMs: 90_000 },
    readyTimeoutMs: 90_000,
    // `BENCH_IDLE_CONNECTOR_ENV` (JSON) adds env to compare settings, e.g. `{"MALLOC_ARENA_MAX":"16"}`
    // (glibc's own limit on 2 cores, in place of the chart's).
    envFor: { connector: { ...FANOUT_CONNECTOR_ENV, ...nodeOptions, ...extraEnv } },
  });
  try {
    const pid = stack.connectors[0]?.pid;
    if (!pid) throw new Error("no connector");
    const users = Array.from({ length: count }, (_, k) => `idle-u${k}`);
    const tokens = await Promise.all(users.map((sub) => signToken({ sub, did: "bench" }, stack.jwtSecret)));
    if (HEAP_DIR) await heapSnapshot(pid, HEAP_DIR);
    const result = await measure(
      pool,
      pid,
      "herald",
      count,
      (k) => ({ url: stack.wsUrl(tokens[k]), localAddress: idleSourceAddress(k), user: users[k] ?? "" }),
      HEAP_DIR ? () => heapSnapshot(pid, HEAP_DIR) : undefined,
      async (before) => {
        const active = await heraldActive(nats.url, pool, pid, users, o, before);
        // A third snapshot, clients still connected: what receiving left alive beside the idle one's objects.
        if (HEAP_DIR) await heapSnapshot(pid, HEAP_DIR);
        return active;
      },
    );
    const arenas = extraEnv.MALLOC_ARENA_MAX ?? chart.MALLOC_ARENA_MAX;
    return { ...result, nodeOptions: options, ...(arenas ? { mallocArenaMax: arenas } : {}) };
  } finally {
    await stack.stop();
  }
}

async function wsIdle(pool: IdlePool, count: number, o: BenchOptions): Promise<IdleMemory> {
  const server = startWorker("ws-server-worker");
  try {
    const { port } = await server.call<{ port: number }>("listen");
    return await measure(
      pool,
      server.pid,
      "ws",
      count,
      (k) => ({
        url: `ws://127.0.0.1:${port}/?u=idle-u${k}`,
        localAddress: idleSourceAddress(k),
        user: `idle-u${k}`,
      }),
      undefined,
      (before) => baselineActive(server, count, o, before),
    );
  } finally {
    await server.stop();
  }
}

/** One Socket.IO server (with its Redis Streams adapter, as deployed), each client in its user's room. */
async function sioIdle(o: BenchOptions, pool: IdlePool, count: number, runId: string): Promise<IdleMemory> {
  const server = startWorker("sio-server-worker");
  try {
    const params: SioListenParams = { redisUrl: o.redisUrl, streamName: `herald-bench-idle-${runId}` };
    const { port } = await server.call<{ port: number }>("listen", params);
    const users = Array.from({ length: count }, (_, k) => `idle-u${k}`);
    const result = await measure(
      pool,
      server.pid,
      "sio",
      count,
      (k) => ({ url: `http://127.0.0.1:${port}`, localAddress: idleSourceAddress(k), user: users[k] ?? "" }),
      undefined,
      (before) => baselineActive(server, count, o, before, { users }),
    );
    await server.call("cleanup").catch(() => undefined);
    return result;
  } finally {
    await server.stop();
  }
}

/**
 * `idleConnections` idle connections to one Herald connector (authenticated: each got `welcome`), to one raw
 * `ws` server and to one Socket.IO server, one system at a time with the same load generators.
 */
export async function runIdle(
  nats: NatsServer,
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<IdleResult> {
  const count = o.idleConnections;
  const loadStart = loadAverage1m();
  const pool = startIdlePool(count);
  const attempt = async (name: string, run: () => Promise<IdleMemory>): Promise<IdleMemory | Skipped> => {
    try {
      const result = await run();
      const active = result.active && !("skipped" in result.active) ? result.active : undefined;
      log(
        `idle ${name}: ${count} connections, RSS +${result.perConnectionBytes} B/connection; receiving 1 msg/s ` +
          (active
            ? `+${active.perConnectionBytes} B (peak +${active.peakPerConnectionBytes} B)`
            : JSON.stringify(result.active)),
      );
      return result;
    } catch (error) {
      log(`idle ${name} failed: ${(error as Error)?.stack ?? String(error)}`);
      await pool.close().catch(() => undefined);
      return { skipped: `failed: ${(error as Error)?.message ?? String(error)}` };
    }
  };
  // `BENCH_IDLE_SYSTEMS=herald`: an experiment knob (e.g. with BENCH_IDLE_CONNECTOR_NODE_OPTIONS) that measures
  // only the systems named; the others are recorded as skipped.
  const only = process.env.BENCH_IDLE_SYSTEMS?.split(",").map((name) => name.trim());
  const skippedUnlessOnly = (name: string, run: () => Promise<IdleMemory>) =>
    only && !only.includes(name) ? Promise.resolve({ skipped: "BENCH_IDLE_SYSTEMS" }) : attempt(name, run);
  try {
    const herald = await skippedUnlessOnly("herald", () => heraldIdle(nats, pool, count, o));
    const ws = await skippedUnlessOnly("ws", () => wsIdle(pool, count, o));
    const socketio = await skippedUnlessOnly("socket.io", () => sioIdle(o, pool, count, runId));
    return { connections: count, herald, ws, socketio, loadAverage: [loadStart, loadAverage1m()] };
  } finally {
    await pool.stop();
  }
}
