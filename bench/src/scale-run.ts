import { DEFAULT_PREFIX, subjects, userToken } from "@herald/protocol";
import { type NatsServer, type Service, signToken, startStack } from "@herald/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { nowUs, sleep } from "./clock.js";
import { memoryResult, SETTLED_MS, startIdlePool } from "./idle-run.js";
import type { BenchOptions } from "./options.js";
import { windowed } from "./pacing.js";
import { rssBytes } from "./procfs.js";
import { loadAverage1m, type MemoryResult } from "./results.js";
import { SCALE_TAGS, type ScaleReceived } from "./scale-tally.js";

/** `connections` authenticated Herald connections over several connectors, each sent two messages. */
export type ScaleResult = {
  connections: number;
  connectors: number;
  clientProcesses: number;
  sourceAddresses: number;
  /** From the first handshake to the last `welcome` (32 handshakes at a time per load generator). */
  connect: { seconds: number; perSecond: number };
  /** RSS growth per connection 3 s after the last connected, by connector. */
  memory: MemoryResult[];
  /** The same `settledAfterMs` after the last connected (absent in results from before it). */
  settledMemory?: MemoryResult[];
  settledAfterMs?: number;
  delivery: {
    /** Until every client had the broadcast (published first) and its own message. */
    allReceivedSeconds: number | null;
    /** Time to PubAck the `connections` targeted messages (512 in flight). */
    targetedPublishSeconds: number;
    received: ScaleReceived;
    /** Clients missing either message when the wait ended (must be 0). */
    lost: number;
  };
  presence: { users: number; connections: number; exact: boolean; secondsToExact: number | null };
  /** What crossed `<p>.presence.report.*` while nothing changed. */
  presenceBeats: { windowSeconds: number; reports: number; bytes: number; bytesPerReport: number };
  loadAverage: [number, number];
};

/** Each connector's share stays well under the 20,000 fds a process may open. */
const PER_CONNECTOR = 15_000;
const MIN_CONNECTORS = 6;
/** 127.0.0.2 … 127.0.0.201: every (source address, connector) pair holds far fewer than the per-IP limit. */
const SOURCE_ADDRESSES = 200;
const CLIENTS_PER_PROC = 16_000;
const SETTLE_MS = 3_000;
/** Beats are every 3 s (presence's default): four of them per connector. */
const BEAT_WINDOW_MS = 12_000;

/** The default per-IP limit (1,000) holds: admission's rate limit is lifted, since this measures holding. */
export const SCALE_CONNECTOR_ENV = { HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: "50000" };

export function scaleConnectors(connections: number): number {
  return Math.max(MIN_CONNECTORS, Math.ceil(connections / PER_CONNECTOR));
}

export function scaleSourceAddress(k: number): string {
  const i = k % SOURCE_ADDRESSES;
  return `127.0.${Math.floor((2 + i) / 256)}.${(2 + i) % 256}`;
}

type PresenceCount = { users: number; connections: number };

/** Polls presence's count API until it says `expected` users and connections (or the deadline). */
export async function presenceExact(
  nc: NatsConnection,
  expected: number,
  timeoutMs: number,
  everyMs = 1_000,
) {
  const s = subjects(DEFAULT_PREFIX);
  const start = nowUs();
  let last: PresenceCount = { users: -1, connections: -1 };
  while ((nowUs() - start) / 1000 < timeoutMs && !nc.isClosed()) {
    try {
      last = (await nc.request(s.presenceCount, "{}", { timeout: 10_000 })).json<PresenceCount>();
      if (last.users === expected && last.connections === expected)
        return { ...last, exact: true, secondsToExact: Math.round((nowUs() - start) / 1e4) / 100 };
    } catch {
      // A slow presence under load: ask again.
    }
    await sleep(everyMs);
  }
  return { ...last, exact: false, secondsToExact: null };
}

/** Bytes of presence reports (connector → presence) over a window with no connection changes. */
async function beatBytes(nc: NatsConnection) {
  const sub = nc.subscribe(subjects(DEFAULT_PREFIX).presenceReportAll);
  let reports = 0;
  let bytes = 0;
  const counting = (async () => {
    for await (const m of sub) {
      reports++;
      bytes += m.data.length;
    }
  })();
  await sleep(BEAT_WINDOW_MS);
  sub.unsubscribe();
  await counting;
  return {
    windowSeconds: BEAT_WINDOW_MS / 1000,
    reports,
    bytes,
    bytesPerReport: reports === 0 ? 0 : Math.round(bytes / reports),
  };
}

function sumReceived(parts: ScaleReceived[]): ScaleReceived {
  const sum: ScaleReceived = {
    clients: 0,
    both: 0,
    missingBroadcast: 0,
    missingTargeted: 0,
    duplicates: 0,
    errorFrames: 0,
  };
  for (const part of parts)
    for (const key of Object.keys(sum) as (keyof ScaleReceived)[]) sum[key] += part[key];
  return sum;
}

/** Publishes the broadcast, then one message to each user; waits until every client has both. */
async function deliver(
  nc: NatsConnection,
  users: string[],
  pool: ReturnType<typeof startIdlePool>,
  runId: string,
  log: (line: string) => void,
) {
  const s = subjects(DEFAULT_PREFIX);
  const js = jetstream(nc);
  const start = nowUs();
  const body = (tag: string) => JSON.stringify({ data: { tag } });
  // A busy machine can keep a PubAck waiting: the same msgID again is stored once.
  const publish = async (subject: string, payload: string, msgID: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await js.publish(subject, payload, { msgID, timeout: 30_000 });
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  };
  await publish(s.sendBroadcast, body(SCALE_TAGS.broadcast), `scale-${runId}-b`);
  await windowed(users.length, 512, (i) =>
    publish(s.sendUser(userToken(users[i] ?? "")), body(SCALE_TAGS.targeted), `scale-${runId}-t${i}`),
  );
  const targetedPublishSeconds = Math.round((nowUs() - start) / 1e4) / 100;
  const deadlineMs = 60_000 + users.length; // a minute plus 1 ms per user
  let received = sumReceived(await pool.received());
  let logged = 0;
  while (received.both < users.length && (nowUs() - start) / 1000 < deadlineMs) {
    await sleep(500);
    received = sumReceived(await pool.received());
    const seconds = Math.floor((nowUs() - start) / 1e7) * 10;
    if (seconds > logged) {
      logged = seconds;
      log(
        `scale: ${seconds} s after publishing began, ${users.length - received.both} clients miss a message`,
      );
    }
  }
  const done = received.both === users.length;
  return {
    allReceivedSeconds: done ? Math.round((nowUs() - start) / 1e4) / 100 : null,
    targetedPublishSeconds,
    received,
    lost: users.length - received.both,
  };
}

async function rssOf(connectors: Service[]) {
  return Promise.all(connectors.map((c) => rssBytes(c.pid ?? 0)));
}

/**
 * `--scale-connections` authenticated connections (one user each) to several connectors from several load
 * generators and source addresses; then one broadcast and one message to every user; presence's count and
 * what its heartbeats carry.
 */
export async function runScale(
  nats: NatsServer,
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<ScaleResult> {
  const count = o.scaleConnections;
  const loadStart = loadAverage1m();
  const replicas = scaleConnectors(count);
  const stack = await startStack({
    nats,
    replicas,
    env: { HERALD_PREFIX: DEFAULT_PREFIX },
    envFor: { connector: SCALE_CONNECTOR_ENV },
    // Many processes start at once on a busy machine.
    serviceOptions: { startTimeoutMs: 90_000 },
    readyTimeoutMs: 90_000,
  });
  const pool = startIdlePool(count, { clientsPerProc: CLIENTS_PER_PROC, tally: true });
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: nats.url });
    const users = Array.from({ length: count }, (_, k) => `sc-u${k}`);
    const tokens = await Promise.all(users.map((sub) => signToken({ sub, did: "bench" }, stack.jwtSecret)));
    await sleep(SETTLE_MS);
    const before = await rssOf(stack.connectors);
    const started = nowUs();
    await pool.connect("herald", (k) => ({
      url: stack.wsUrl(tokens[k], k % replicas),
      localAddress: scaleSourceAddress(k),
      user: users[k] ?? "",
    }));
    const seconds = Math.round((nowUs() - started) / 1e4) / 100;
    log(`scale: ${count} connections on ${replicas} connectors in ${seconds} s`);
    await sleep(SETTLE_MS);
    const after = await rssOf(stack.connectors);
    const memory = stack.connectors.map((_, i) => {
      const held = Math.floor(count / replicas) + (i < count % replicas ? 1 : 0);
      return memoryResult(held, before[i] ?? 0, after[i] ?? 0);
    });
    log(`scale: RSS per connection ${memory.map((m) => m.perConnectionBytes).join(", ")} B`);
    const connectedAt = performance.now();
    const presence = await presenceExact(nc, count, 60_000);
    log(`scale: presence ${presence.users} users, ${presence.connections} connections`);
    // Read again once settled, as the idle part does (its `SETTLED_MS`), before any message is sent.
    await sleep(Math.max(0, SETTLED_MS - (performance.now() - connectedAt)));
    const settled = await rssOf(stack.connectors);
    const settledMemory = memory.map((m, i) => memoryResult(m.connections, before[i] ?? 0, settled[i] ?? 0));
    log(
      `scale: RSS per connection once settled ${settledMemory.map((m) => m.perConnectionBytes).join(", ")} B`,
    );
    const presenceBeats = await beatBytes(nc);
    log(`scale: presence beats ${presenceBeats.reports} reports, ${presenceBeats.bytesPerReport} B each`);
    const delivery = await deliver(nc, users, pool, runId, log);
    log(`scale: delivered in ${delivery.allReceivedSeconds ?? "-"} s, lost ${delivery.lost}`);
    const closed = await pool.closedEarly();
    if (closed > 0) log(`scale: ${closed} connections were closed by a connector`);
    return {
      connections: count,
      connectors: replicas,
      clientProcesses: pool.processes,
      sourceAddresses: Math.min(count, SOURCE_ADDRESSES),
      connect: { seconds, perSecond: Math.round(count / seconds) },
      memory,
      settledMemory,
      settledAfterMs: SETTLED_MS,
      delivery,
      presence,
      presenceBeats,
      loadAverage: [loadStart, loadAverage1m()],
    };
  } finally {
    await nc?.close().catch(() => undefined);
    await pool.close().catch(() => undefined);
    await pool.stop().catch(() => undefined);
    await stack.stop().catch(() => undefined);
  }
}
