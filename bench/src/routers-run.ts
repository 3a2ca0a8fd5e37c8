import { intakePartitionCount, type Subjects, subjects } from "@herald/protocol";
import { JsPublisher } from "@herald/service-kit";
import { type NatsServer, startStack, waitUntil } from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { nowUs } from "./clock.js";
import { type BenchOptions, serviceNodeOptionsEnv } from "./options.js";
import { paced, windowed } from "./pacing.js";
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
  /** The paced phase: writes offered per second, and the routers' CPU per write then. */
  pacedWritesPerSec: number;
  pacedRouterCpuMicrosPerWrite: number;
  /** The CPU seconds of each replica: how the work was shared. */
  routerCpuSeconds: number[];
  /** Intake lanes (partitions and the unpartitioned one) each replica held while routing. */
  lanesPerReplica: number[];
  otherProcessesCpuSeconds: number;
  /** Times a lane's lease changed hands during the round (a starved holder loses it): 0 on a calm machine. */
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
/** The paced phase: `send.users` messages per second (ten writes each) for `PACED_MS`. */
const PACED_RATE = 1_500;
const PACED_MS = 20_000;
/** Partition keys the messages are spread over (`send.users.<key>`), as many tenants would. */
export const KEYS = 64;
const REPLICA_COUNTS = [1, 2, 3];

/**
 * Router CPU per routed write and throughput with 1, 2 and 3 router replicas (issue 14's capacity model):
 * each round starts a fresh stack under its own prefix, waits until the replicas share the intake's lanes,
 * publishes keyed `send.users.<key>` messages (10 users each, spread over `--users` users, `KEYS` keys) as fast
 * as a windowed publisher can, and times until the routers have routed them all; then offers a rate one
 * replica sustains and measures the routers' CPU per write there.
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
        `(by replica: ${round.routerCpuSeconds.join(", ")} s; lanes ${round.lanesPerReplica.join("/")}), ` +
        `nats-server ${round.natsCpuMicrosPerWrite} µs, ` +
        `${round.leaseHandovers} lease handovers; paced: router ${round.pacedRouterCpuMicrosPerWrite} µs per write`,
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
    env: { HERALD_PREFIX: prefix, ...serviceNodeOptionsEnv() },
    // Three replicas plus the stack start on a shared 2-core machine: give them time.
    serviceOptions: { startTimeoutMs: 90_000 },
    readyTimeoutMs: 90_000,
  });
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  try {
    const s = subjects(prefix);
    const jsm = await jetstreamManager(nc);
    const publisher = new JsPublisher(nc, { timeoutMs: 30_000 });
    const lanes = await shared(
      nc,
      s,
      stack.routers.map((r) => r.pid ?? -1),
    );
    const handoversBefore = leaseAcquisitions(stack.routers);
    const pids = Object.fromEntries(stack.routers.map((r, i) => [`router${i}`, r.pid]));
    const meter = () => cpuMeter({ "nats-server": nats.pid(), ...pids });
    const publish = (i: number) => {
      const body = sendUsersBody(i, o.users, `${prefix}-${i}`);
      return publisher.publish(s.sendUsersKeyed(`k${i % KEYS}`), body, { msgID: `${prefix}-${i}` });
    };
    // As fast as it goes: the cores are the limit, shared by every replica.
    let cpu = await meter();
    const start = nowUs();
    await windowed(messages, o.window, publish);
    await drained(jsm, s);
    const seconds = (nowUs() - start) / 1e6;
    const used = await cpu();
    // At a rate one replica sustains: what each write costs when the replicas do not fight for the cores.
    cpu = await meter();
    const pending: Promise<unknown>[] = [];
    const pacedMessages = await paced(PACED_RATE, PACED_MS, (i) => pending.push(publish(messages + i)));
    await Promise.all(pending);
    await drained(jsm, s);
    const pacedUsed = await cpu();
    publisher.close();
    const writes = await storedWrites(jsm, s);
    const expected = (messages + pacedMessages) * USERS_PER_MESSAGE;
    if (writes !== expected)
      throw new Error(`routers ×${replicas}: ${writes} mailbox writes, expected ${expected}`);
    const routerSeconds = (cpuUsed: Record<string, number>) =>
      stack.routers.map((_, i) => cpuUsed[`router${i}`] ?? Number.NaN);
    const per = (cpuSeconds: number[], count: number) =>
      Math.round((cpuSeconds.reduce((a, b) => a + b, 0) * 1e6) / (count * USERS_PER_MESSAGE));
    return {
      replicas,
      writes: messages * USERS_PER_MESSAGE,
      seconds: Math.round(seconds * 100) / 100,
      writesPerSec: Math.round((messages * USERS_PER_MESSAGE) / seconds),
      routerCpuMicrosPerWrite: per(routerSeconds(used), messages),
      natsCpuMicrosPerWrite: per([used["nats-server"] ?? Number.NaN], messages),
      pacedWritesPerSec: PACED_RATE * USERS_PER_MESSAGE,
      pacedRouterCpuMicrosPerWrite: per(routerSeconds(pacedUsed), pacedMessages),
      routerCpuSeconds: routerSeconds(used),
      lanesPerReplica: lanes,
      otherProcessesCpuSeconds: used.otherProcesses ?? Number.NaN,
      leaseHandovers: leaseAcquisitions(stack.routers) - handoversBefore,
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

/**
 * Waits until every lane's lease is held and no replica holds more than its share (⌈lanes ÷ replicas⌉);
 * returns the lanes each replica (by pid, part of its default replica id) holds.
 */
async function shared(nc: NatsConnection, s: Subjects, pids: number[]): Promise<number[]> {
  const jsm = await jetstreamManager(nc);
  const partitions = intakePartitionCount(
    (await jsm.streams.info(s.streams.intake)).config.subject_transform,
  );
  const keys = [
    s.leaseKeys.router,
    ...Array.from({ length: partitions }, (_, k) => s.leaseKeys.routerPartition(k)),
  ];
  const kv = await new Kvm(nc).open(s.buckets.leases);
  const share = Math.ceil(keys.length / pids.length);
  return waitUntil(
    async () => {
      const holders = await Promise.all(keys.map(async (key) => (await kv.get(key))?.string()));
      const held = pids.map(
        (pid) => holders.filter((h: string | undefined) => h?.includes(`-${pid}-`)).length,
      );
      const balanced = held.reduce((a, b) => a + b, 0) === keys.length && held.every((n) => n <= share);
      return balanced ? held : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: "the routers to share the intake's lanes" },
  );
}

/** "router lease acquired" lines of all replicas: one per lane taken. */
function leaseAcquisitions(routers: { logRecords: () => Record<string, unknown>[] }[]): number {
  return routers.reduce((sum, r) => sum + r.logRecords().filter((l) => l.held === true).length, 0);
}

/** Waits until the routers have acked every intake message (the work queue is empty). */
async function drained(jsm: Awaited<ReturnType<typeof jetstreamManager>>, s: Subjects): Promise<void> {
  await waitUntil(async () => (await jsm.streams.info(s.streams.intake)).state.messages === 0, {
    timeoutMs: 300_000,
    intervalMs: 50,
    message: "the router to drain the intake",
  });
}

async function storedWrites(jsm: Awaited<ReturnType<typeof jetstreamManager>>, s: Subjects): Promise<number> {
  return (await jsm.streams.info(s.streams.mailbox)).state.messages;
}
