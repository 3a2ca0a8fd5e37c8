import { type Subjects, subjects } from "@herald/protocol";
import { JsPublisher } from "@herald/service-kit";
import { type NatsServer, startStack, waitUntil } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { nowUs } from "./clock.js";
import type { BenchOptions } from "./options.js";
import { windowed } from "./pacing.js";
import { cpuMeter } from "./procfs.js";
import { loadAverage1m } from "./results.js";

/** One round: `replicas` routers draining the same backlog of `send.users` messages. */
export type RoutersRound = {
  replicas: number;
  /** Mailbox writes routed (messages × users per message), checked against the mailbox stream. */
  writes: number;
  /** From the first publish until the intake consumer has nothing pending or unacked. */
  seconds: number;
  writesPerSec: number;
  /** CPU of every router replica together, per mailbox write. */
  routerCpuMicrosPerWrite: number;
  natsCpuMicrosPerWrite: number;
  /** The CPU seconds of each replica: how the work was shared (one leader routes today). */
  routerCpuSeconds: number[];
  otherProcessesCpuSeconds: number;
  /** Times the routing lease changed hands during the round (a starved holder loses it): 0 on a calm machine. */
  leaseHandovers: number;
};

export type RoutersResult = {
  messages: number;
  usersPerMessage: number;
  rounds: RoutersRound[];
  /** 1-minute load average when the part started and ended. */
  loadAverage: [number, number];
};

/** Recipients of each `send.users` message: the router's fan-out, ten mailbox writes per intake message. */
export const USERS_PER_MESSAGE = 10;
const REPLICA_COUNTS = [1, 2, 3];

/**
 * Router CPU per routed write and throughput with 1, 2 and 3 router replicas (issue 14's capacity model):
 * each round starts a fresh stack under its own prefix, publishes `send.users` messages (10 users each, spread
 * over `--users` users) as fast as a windowed publisher can, and times until the router has routed them all.
 */
export async function runRouters(
  nats: NatsServer,
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<RoutersResult> {
  const loadBefore = loadAverage1m();
  const messages = o.quick ? 3_000 : 10_000;
  const rounds: RoutersRound[] = [];
  for (const replicas of REPLICA_COUNTS) {
    const round = await runRound(nats, o, { replicas, messages, prefix: `rt${runId}r${replicas}` });
    log(
      `routers ×${replicas}: ${round.writesPerSec} writes/s, router ${round.routerCpuMicrosPerWrite} µs CPU per write ` +
        `(by replica: ${round.routerCpuSeconds.join(", ")} s), nats-server ${round.natsCpuMicrosPerWrite} µs, ` +
        `${round.leaseHandovers} lease handovers`,
    );
    rounds.push(round);
  }
  return { messages, usersPerMessage: USERS_PER_MESSAGE, rounds, loadAverage: [loadBefore, loadAverage1m()] };
}

async function runRound(
  nats: NatsServer,
  o: BenchOptions,
  round: { replicas: number; messages: number; prefix: string },
): Promise<RoutersRound> {
  const { replicas, messages, prefix } = round;
  const stack = await startStack({
    nats,
    counts: { router: replicas },
    env: { HERALD_PREFIX: prefix },
    // Three replicas plus the stack start on a shared 2-core machine: give them time.
    serviceOptions: { startTimeoutMs: 90_000 },
    readyTimeoutMs: 90_000,
  });
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  try {
    const s = subjects(prefix);
    const jsm = await jetstreamManager(nc);
    const publisher = new JsPublisher(nc, { timeoutMs: 30_000 });
    const pids = Object.fromEntries(stack.routers.map((r, i) => [`router${i}`, r.pid]));
    const cpu = await cpuMeter({ "nats-server": nats.pid(), ...pids });
    const start = nowUs();
    await windowed(messages, o.window, (i) => {
      const body = sendUsersBody(i, o.users, `${prefix}-${i}`);
      return publisher.publish(s.sendUsers, body, { msgID: `${prefix}-${i}` });
    });
    await drained(jsm, s);
    const seconds = (nowUs() - start) / 1e6;
    const used = await cpu();
    publisher.close();
    const writes = await storedWrites(jsm, s);
    const expected = messages * USERS_PER_MESSAGE;
    if (writes !== expected)
      throw new Error(`routers ×${replicas}: ${writes} mailbox writes, expected ${expected}`);
    const routerSeconds = stack.routers.map((_, i) => used[`router${i}`] ?? Number.NaN);
    const per = (cpuSeconds: number) => Math.round((cpuSeconds * 1e6) / writes);
    return {
      replicas,
      writes,
      seconds: Math.round(seconds * 100) / 100,
      writesPerSec: Math.round(writes / seconds),
      routerCpuMicrosPerWrite: per(routerSeconds.reduce((a, b) => a + b, 0)),
      natsCpuMicrosPerWrite: per(used["nats-server"] ?? Number.NaN),
      routerCpuSeconds: routerSeconds,
      otherProcessesCpuSeconds: used.otherProcesses ?? Number.NaN,
      leaseHandovers: leaseAcquisitions(stack.routers) - 1,
    };
  } finally {
    await nc.close();
    await stack.stop();
  }
}

/** Message `i`: to 10 consecutive users of `users`, so each user's mailbox stays far below its backlog cap. */
export function sendUsersBody(i: number, users: number, id: string): Uint8Array {
  const userIds = Array.from(
    { length: USERS_PER_MESSAGE },
    (_, k) => `u${(i * USERS_PER_MESSAGE + k) % users}`,
  );
  return new TextEncoder().encode(JSON.stringify({ id, userIds, data: { i, text: "x".repeat(100) } }));
}

/** "router lease acquired" lines of all replicas: the first leader's, plus one per handover. */
function leaseAcquisitions(routers: { logRecords: () => Record<string, unknown>[] }[]): number {
  return routers.reduce((sum, r) => sum + r.logRecords().filter((l) => l.held === true).length, 0);
}

/** Waits until the router has acked every intake message (the work queue is empty). */
async function drained(jsm: Awaited<ReturnType<typeof jetstreamManager>>, s: Subjects): Promise<void> {
  await waitUntil(
    async () => {
      const info = await jsm.consumers.info(s.streams.intake, s.consumers.router);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs: 300_000, intervalMs: 50, message: "the router to drain the intake" },
  );
}

async function storedWrites(jsm: Awaited<ReturnType<typeof jetstreamManager>>, s: Subjects): Promise<number> {
  return (await jsm.streams.info(s.streams.mailbox)).state.messages;
}
