import { randomBytes } from "node:crypto";
import { DEFAULT_PREFIX, type SendBody, type SendUsersBody, subjects, userToken } from "@herald/protocol";
import { signToken, startStack } from "@herald/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { startClientPool } from "./client-pool.js";
import { nowUs, sleep } from "./clock.js";
import { closedLoopPhase } from "./closed-loop.js";
import { dataMaker, messageId } from "./frames.js";
import { userIds } from "./herald-run.js";
import { type BenchOptions, serviceNodeOptionsEnv } from "./options.js";
import { type OtlpSink, startOtlpSink } from "./otlp-sink.js";
import { cpuMeter } from "./procfs.js";
import { ReceiptCounter } from "./receipts.js";
import { loadAverage1m } from "./results.js";
import { perSecond } from "./stats.js";

export type TracingRound = {
  tracing: "off" | "on";
  messages: number;
  receipts: number;
  msgsPerSec: number;
  /**
   * CPU µs per message of connector, router, persistence and their sum (`total`), and beside it of nats-server,
   * the OTLP sink (its own process) and the bench process (publisher and receipt counter).
   */
  cpuMicrosPerMessage: Record<string, number>;
  /** OTLP export requests and bytes the sink received during the round (0 with tracing off). */
  exports: { requests: number; bytes: number };
  loadAverage: number;
};

/**
 * The message's way in: `user` is a single-user send (`send.user.<token>`, the Herald part's workload, stored
 * straight into the mailbox), `users` a `send.users` of one user, which the router reads and writes on.
 */
export type TracingPath = "user" | "users";

export type TracingPathResult = {
  path: TracingPath;
  /** Off/on rounds in the order off, on, on, off, each on a fresh stack. */
  rounds: TracingRound[];
  /** Σ on msg/s ÷ Σ off msg/s over the rounds: 1 is free, the budget is ≥ 0.9. */
  throughputRatio: number;
  /** Σ on ÷ Σ off of the services' CPU per message (connector + router + persistence). */
  cpuRatio: number;
  /** The same ratio for the services plus nats-server, the OTLP sink and the bench process: all the loop's CPU. */
  loopCpuRatio: number;
  setup: string;
};

export type TracingResult = { paths: TracingPathResult[] };

const SETUP: Record<TracingPath, string> = {
  user: "send.user.<token> (the Herald part's workload: stored straight into the mailbox)",
  users: "send.users of one user each (through the router)",
};

/**
 * Tracing's cost: the sustained closed loop of the Herald part, on a fresh stack per round, with tracing off
 * and on (100 % sampling, OTLP/HTTP protobuf to a local sink that discards), interleaved. Each message carries
 * a sampled `traceparent`; both ways in are measured (`TracingPath`), so every hop is traced in one of them.
 */
export async function runTracingCost(
  nats: { url: string; pid: () => number | undefined },
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<TracingResult> {
  const sink = await startOtlpSink();
  try {
    const paths: TracingPathResult[] = [];
    // Profiling aid: `BENCH_TRACING_PATHS=user` (or `users`) measures one way in only.
    const only = process.env.BENCH_TRACING_PATHS;
    for (const path of (["user", "users"] as const).filter((p) => !only || only === p))
      paths.push(await tracingPath(path, nats, o, `${runId}${path === "user" ? "a" : "b"}`, sink, log));
    return { paths };
  } finally {
    await sink.close();
  }
}

async function tracingPath(
  path: TracingPath,
  nats: { url: string; pid: () => number | undefined },
  o: BenchOptions,
  runId: string,
  sink: OtlpSink,
  log: (line: string) => void,
): Promise<TracingPathResult> {
  const rounds: TracingRound[] = [];
  // off, on, on, off: a drift over the part (other work on the machine, the shared nats-server's streams
  // filling round after round) weighs on both settings alike, which off, on, off, on does not.
  const order: ("off" | "on")[] = ["off", "on", "on", "off"];
  for (const [k, tracing] of order.entries()) {
    const env: Record<string, string> = { HERALD_PREFIX: DEFAULT_PREFIX, ...serviceNodeOptionsEnv() };
    if (tracing === "on") env.OTEL_EXPORTER_OTLP_ENDPOINT = sink.endpoint;
    const before = await sink.counts();
    const round = await closedLoop(path, nats, o, `${runId}t${k}`, env, sink);
    const after = await sink.counts();
    // An "on" round whose spans never reached the sink measured nothing: fail the part rather than report it.
    if (tracing === "on" && after.requests === before.requests)
      throw new Error("tracing on, but the services exported no spans to the sink");
    rounds.push({
      tracing,
      ...round,
      exports: { requests: after.requests - before.requests, bytes: after.bytes - before.bytes },
    });
    log(
      `tracing ${tracing} (${path}): ${round.msgsPerSec} msg/s, ${round.cpuMicrosPerMessage.total} µs CPU per message ` +
        `(load ${round.loadAverage})`,
    );
  }
  const sum = (mode: "off" | "on", of: (r: TracingRound) => number) =>
    rounds.filter((r) => r.tracing === mode).reduce((a, r) => a + of(r), 0);
  const ratio = (of: (r: TracingRound) => number) =>
    Math.round((sum("on", of) / sum("off", of)) * 1000) / 1000;
  return {
    path,
    rounds,
    throughputRatio: ratio((r) => r.msgsPerSec),
    cpuRatio: ratio((r) => r.cpuMicrosPerMessage.total ?? Number.NaN),
    loopCpuRatio: ratio((r) => loopCpu(r.cpuMicrosPerMessage)),
    setup: `${SETUP[path]} with a sampled traceparent; on: OTEL_EXPORTER_OTLP_ENDPOINT to a local sink process that drains and discards (OTLP/HTTP protobuf, Herald's OTEL_* defaults otherwise)`,
  };
}

function loopCpu(c: Record<string, number>): number {
  return (c.total ?? Number.NaN) + (c.natsServer ?? Number.NaN) + (c.sink ?? 0) + (c.bench ?? Number.NaN);
}

async function closedLoop(
  path: TracingPath,
  nats: { url: string; pid: () => number | undefined },
  o: BenchOptions,
  runId: string,
  env: Record<string, string>,
  sink: OtlpSink,
): Promise<Omit<TracingRound, "tracing" | "exports">> {
  const s = subjects(DEFAULT_PREFIX);
  // A generous start-up deadline: on a shared machine under load, loading the SDK alone can take seconds.
  const stack = await startStack({ nats, env, serviceOptions: { startTimeoutMs: 120_000 } });
  const pool = startClientPool(o.clientProcs);
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const receipts = new ReceiptCounter(nc, s);
  try {
    const js = jetstream(nc);
    const users = userIds(o.users);
    const encoder = new TextEncoder();
    const make = dataMaker(o.payloadBytes, (data) =>
      JSON.stringify({ userIds: ["u00000"], id: messageId(runId, 9, 99_999), data } satisfies SendUsersBody),
    );
    const sendSubjects = users.map((user) => s.sendUser(userToken(user)));
    const traceId = randomBytes(16).toString("hex");
    const publish = (phase: number, i: number) => {
      const id = messageId(runId, phase, i);
      const user = users[i % users.length] ?? "";
      const body: SendBody | SendUsersBody =
        path === "user" ? { id, data: make(phase, i) } : { userIds: [user], id, data: make(phase, i) };
      const subject = path === "user" ? (sendSubjects[i % users.length] ?? "") : s.sendUsers;
      const h = headers();
      h.set("traceparent", `00-${traceId}-${randomBytes(8).toString("hex")}-01`);
      return js.publish(subject, encoder.encode(JSON.stringify(body)), { msgID: id, headers: h });
    };
    const tokens = await Promise.all(users.map((sub) => signToken({ sub, did: "bench" }, stack.jwtSecret)));
    await pool.connect(
      "herald",
      users.map((user, k) => ({ user, url: stack.wsUrl(tokens[k]) })),
    );
    const loop = { pool, receipts, runId, window: o.window, inflight: o.inflight, publish };
    const run = (phase: number, n: number) => closedLoopPhase(loop, phase, n);
    await run(1, Math.min(o.messages, users.length * 2));
    await sleep(500);
    const cpu = await cpuMeter({
      connector: stack.connectors[0]?.pid,
      router: stack.routers[0]?.pid,
      persistence: stack.persistence[0]?.pid,
      natsServer: nats.pid(),
      sink: sink.pid,
    });
    const start = nowUs();
    await run(2, o.messages);
    const used = await cpu();
    const per = (seconds: number | undefined) => Math.round(((seconds ?? Number.NaN) * 1e6) / o.messages);
    const cpuMicrosPerMessage = {
      connector: per(used.connector),
      router: per(used.router),
      persistence: per(used.persistence),
      total: per((used.connector ?? 0) + (used.router ?? 0) + (used.persistence ?? 0)),
      natsServer: per(used.natsServer),
      sink: per(used.sink),
      bench: per(used.bench),
    };
    return {
      messages: o.messages,
      receipts: receipts.unique,
      msgsPerSec: perSecond(receipts.unique, receipts.lastUs - start),
      cpuMicrosPerMessage,
      loadAverage: loadAverage1m(),
    };
  } finally {
    receipts.stop();
    await nc.close().catch(() => undefined);
    await pool.stop().catch(() => undefined);
    await stack.stop().catch(() => undefined);
  }
}
