import { readdir } from "node:fs/promises";
import { DEFAULT_PREFIX } from "@herald/protocol";
import { type NatsServer, signToken, startStack } from "@herald/testkit";
import { sleep } from "./clock.js";
import { FANOUT_CONNECTOR_ENV } from "./fanout-run.js";
import type { IdleConnectParams, IdleConnectResult, IdleMode, IdleTarget } from "./idle-client-worker.js";
import type { BenchOptions } from "./options.js";
import { rssBytes } from "./procfs.js";
import { loadAverage1m, type MemoryResult, type Skipped } from "./results.js";
import type { ScaleReceived } from "./scale-tally.js";
import type { SioListenParams } from "./sio-server-worker.js";
import { startWorker, type Worker, WorkerError } from "./worker.js";

/** RSS growth per idle connection on one server process of each system, measured one after the other. */
export type IdleResult = {
  connections: number;
  herald: MemoryResult | Skipped;
  ws: MemoryResult | Skipped;
  socketio: MemoryResult | Skipped;
  /** 1-minute load average when the part started and ended. */
  loadAverage: [number, number];
};

/** Connections one load-generator process holds (the fd limit is 20,000 per process). */
const CLIENTS_PER_PROC = 5_000;
/** Source addresses 127.0.0.2 … so 10,000 connections to one port never run short of ephemeral ports. */
const SOURCE_ADDRESSES = 10;
/** How long a server settles before and after its clients connect, before RSS is read. */
const SETTLE_MS = 3_000;

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
): Promise<MemoryResult> {
  await sleep(SETTLE_MS);
  const before = await rssBytes(pid);
  await pool.connect(mode, targetOf);
  await sleep(SETTLE_MS);
  const after = await rssBytes(pid);
  const closed = await pool.closedEarly();
  if (closed > 0) throw new WorkerError(`${closed} idle ${mode} connections were closed by the server`);
  await afterMeasure?.();
  await pool.close();
  return memoryResult(count, before, after);
}

/**
 * Heap snapshots of the connector with no clients and with all of them (`BENCH_IDLE_HEAP_DIR`; read them with
 * `node bench/experiments/heap-by-constructor.mjs`): the connector then runs with `--heapsnapshot-signal`.
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

async function heraldIdle(nats: NatsServer, pool: IdlePool, count: number): Promise<MemoryResult> {
  // `BENCH_IDLE_CONNECTOR_NODE_OPTIONS`: an experiment knob (e.g. `--max-semi-space-size=2`).
  const options = [
    process.env.BENCH_IDLE_CONNECTOR_NODE_OPTIONS ?? "",
    HEAP_DIR ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${HEAP_DIR}` : "",
  ].join(" ");
  const nodeOptions = options.trim() ? { NODE_OPTIONS: options.trim() } : {};
  const stack = await startStack({
    nats,
    env: { HERALD_PREFIX: DEFAULT_PREFIX },
    envFor: { connector: { ...FANOUT_CONNECTOR_ENV, ...nodeOptions } },
  });
  try {
    const pid = stack.connectors[0]?.pid;
    if (!pid) throw new Error("no connector");
    const users = Array.from({ length: count }, (_, k) => `idle-u${k}`);
    const tokens = await Promise.all(users.map((sub) => signToken({ sub, did: "bench" }, stack.jwtSecret)));
    if (HEAP_DIR) await heapSnapshot(pid, HEAP_DIR);
    return await measure(
      pool,
      pid,
      "herald",
      count,
      (k) => ({ url: stack.wsUrl(tokens[k]), localAddress: idleSourceAddress(k), user: users[k] ?? "" }),
      HEAP_DIR ? () => heapSnapshot(pid, HEAP_DIR) : undefined,
    );
  } finally {
    await stack.stop();
  }
}

async function wsIdle(pool: IdlePool, count: number): Promise<MemoryResult> {
  const server = startWorker("ws-server-worker");
  try {
    const { port } = await server.call<{ port: number }>("listen");
    return await measure(pool, server.pid, "ws", count, (k) => ({
      url: `ws://127.0.0.1:${port}/?u=idle-u${k}`,
      localAddress: idleSourceAddress(k),
      user: `idle-u${k}`,
    }));
  } finally {
    await server.stop();
  }
}

/** One Socket.IO server (with its Redis Streams adapter, as deployed), each client in its user's room. */
async function sioIdle(o: BenchOptions, pool: IdlePool, count: number, runId: string): Promise<MemoryResult> {
  const server = startWorker("sio-server-worker");
  try {
    const params: SioListenParams = { redisUrl: o.redisUrl, streamName: `herald-bench-idle-${runId}` };
    const { port } = await server.call<{ port: number }>("listen", params);
    const result = await measure(pool, server.pid, "sio", count, (k) => ({
      url: `http://127.0.0.1:${port}`,
      localAddress: idleSourceAddress(k),
      user: `idle-u${k}`,
    }));
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
  const attempt = async (name: string, run: () => Promise<MemoryResult>): Promise<MemoryResult | Skipped> => {
    try {
      const result = await run();
      log(`idle ${name}: ${count} connections, RSS +${result.perConnectionBytes} B/connection`);
      return result;
    } catch (error) {
      log(`idle ${name} failed: ${(error as Error)?.stack ?? String(error)}`);
      await pool.close().catch(() => undefined);
      return { skipped: `failed: ${(error as Error)?.message ?? String(error)}` };
    }
  };
  try {
    const herald = await attempt("herald", () => heraldIdle(nats, pool, count));
    const ws = await attempt("ws", () => wsIdle(pool, count));
    const socketio = await attempt("socket.io", () => sioIdle(o, pool, count, runId));
    return { connections: count, herald, ws, socketio, loadAverage: [loadStart, loadAverage1m()] };
  } finally {
    await pool.stop();
  }
}
