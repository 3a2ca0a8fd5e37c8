// Simulated connectors for the presence benchmark (one per process, like real connectors), each on its own
// NATS connection, reporting
// through the connector's own PresenceReporter (open/close as they happen, a beat with the digest of its set
// every interval, a full list in parts in answer to <p>.presence.sync). Real sockets cannot reach 100k here (20k fds per process), and
// the presence service only ever sees these reports, so publishing them is the same load.
import { randomBytes, randomUUID } from "node:crypto";
import { type ConnectionInfo, subjects } from "@herald/protocol";
import { createHandlerGuard, createLogger, Registry } from "@herald/service-kit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { PresenceReporter } from "../../apps/connector/dist/presence-reporter.js";
import { nowUs, sleep } from "./clock.js";
import { serveRpc } from "./worker.js";

export type StartParams = {
  natsUrl: string;
  connectors: number;
  heartbeatMs: number;
  prefix?: string;
  /** How long full heartbeats replace beats after a sync of the previous release (the "before" phases). */
  legacyHoldMs?: number;
};
/** Connections `offset .. offset + total - 1` of the whole benchmark (user ids follow the index). */
export type FillParams = { total: number; batch: number; offset: number };
export type ChurnParams = { opsPerSecond: number; seconds: number; minAgeMs: number; userPrefix: string };
/** Churn reports: `[userId, event it should cause, publish µs monotonic, publish ms epoch]`. */
export type ChurnResult = {
  published: [string, "online" | "offline", number, number][];
  opens: number;
  closes: number;
};

type Sim = { nc: NatsConnection; reporter: PresenceReporter; id: string };

let sims: Sim[] = [];

async function start(params: StartParams): Promise<{ connectorIds: string[] }> {
  const s = subjects(params.prefix);
  sims = await Promise.all(
    Array.from({ length: params.connectors }, async (_, i) => {
      const nc = await connect({ servers: params.natsUrl, noAsyncTraces: true, name: `sim-connector-${i}` });
      const id = `sim-${i}-${randomBytes(3).toString("hex")}`;
      const guard = createHandlerGuard(createLogger(id, "warn"), new Registry());
      const reporter = new PresenceReporter(nc, s, id, params.heartbeatMs, guard, params.legacyHoldMs);
      reporter.start();
      return { nc, reporter, id };
    }),
  );
  return { connectorIds: sims.map((sim) => sim.id) };
}

/** `total` connections spread round-robin, some users on two devices (like measure-memory.ts). */
async function fill(params: FillParams): Promise<{ connections: number; users: number }> {
  const users = new Set<string>();
  for (let i = params.offset; i < params.offset + params.total; i++) {
    const sim = sims[i % sims.length]!;
    const info: ConnectionInfo = {
      connectionId: randomUUID(),
      userId: `user-${Math.floor(i / 1.5)}`,
      deviceId: i % 3 === 0 ? "default" : `device-${randomBytes(6).toString("hex")}`,
      since: Date.now(),
    };
    users.add(info.userId);
    sim.reporter.opened(info);
    if ((i + 1 - params.offset) % params.batch === 0) await Promise.all(sims.map((x) => x.nc.flush()));
  }
  await Promise.all(sims.map((x) => x.nc.flush()));
  return { connections: params.total, users: users.size };
}

/**
 * `opsPerSecond` reports per second, half opens of a fresh single-device user (→ online) and half closes of
 * a churn user opened at least `minAgeMs` before (→ offline), paced in 10 ms slots.
 */
async function churn(params: ChurnParams): Promise<ChurnResult> {
  const published: ChurnResult["published"] = [];
  const open: { sim: Sim; connectionId: string; userId: string; at: number }[] = [];
  let next = 0;
  let opens = 0;
  let closes = 0;
  const slotMs = 10;
  const perSlot = (params.opsPerSecond * slotMs) / 1000;
  const startedMs = performance.now();
  let due = 0;
  for (let slot = 0; slot < (params.seconds * 1000) / slotMs; slot++) {
    const wait = startedMs + slot * slotMs - performance.now();
    if (wait > 0) await sleep(wait);
    due += perSlot;
    // (the epsilon: a rate that divides evenly must not lose its last operation to rounding)
    for (; due >= 1 - 1e-9; due--) {
      const oldest = open[0];
      const closing =
        (opens + closes) % 2 === 1 && oldest && performance.now() - oldest.at >= params.minAgeMs;
      if (closing) {
        open.shift();
        published.push([oldest.userId, "offline", nowUs(), Date.now()]);
        oldest.sim.reporter.closed(oldest.connectionId);
        closes++;
      } else {
        const sim = sims[next++ % sims.length]!;
        const userId = `${params.userPrefix}${next}`;
        const info = { connectionId: randomUUID(), userId, deviceId: "default", since: Date.now() };
        published.push([userId, "online", nowUs(), Date.now()]);
        sim.reporter.opened(info);
        open.push({ sim, connectionId: info.connectionId, userId, at: performance.now() });
        opens++;
      }
    }
  }
  await Promise.all(sims.map((x) => x.nc.flush()));
  // What is still open stays tracked; the registry keeps its size within a few hundred connections.
  return { published, opens, closes };
}

async function stop(): Promise<void> {
  for (const sim of sims) sim.reporter.stop();
  await Promise.all(sims.map((sim) => sim.nc.drain().catch(() => {})));
  sims = [];
}

serveRpc(
  {
    start: (params) => start(params as StartParams),
    fill: (params) => fill(params as FillParams),
    churn: (params) => churn(params as ChurnParams),
    heartbeat: () => {
      for (const sim of sims) sim.reporter.heartbeat();
      return sims.length;
    },
    stop: () => stop(),
  },
  () => {
    for (const sim of sims) void sim.nc.close();
  },
);
