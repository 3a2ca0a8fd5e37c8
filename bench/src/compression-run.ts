import { DEFAULT_PREFIX, type SendBody, subjects, userToken } from "@herald/protocol";
import { signToken, startStack } from "@herald/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type ClientPool, startClientPool } from "./client-pool.js";
import type { WireStats } from "./client-worker.js";
import { nowUs, sleep, wallUs } from "./clock.js";
import { closedLoopPhase } from "./closed-loop.js";
import {
  type CompressionResult,
  type CompressionRound,
  type CompressionSample,
  type PayloadSize,
  summarizeCompression,
} from "./compression-report.js";
import { messageId } from "./frames.js";
import { userIds } from "./herald-run.js";
import type { BenchOptions } from "./options.js";
import { deflateRatio, realisticPayloads, sampleFrame } from "./payloads.js";
import { cpuMeter, rssBytes } from "./procfs.js";
import { ReceiptCounter } from "./receipts.js";
import { loadAverage1m } from "./results.js";
import { perSecond } from "./stats.js";

/** Published JSON body of each size: a short notification (below the connector's compression threshold) and a digest above it. */
export const COMPRESSION_BODY_BYTES: Record<PayloadSize, number> = { small: 200, large: 3_000 };

type Nats = { url: string; pid: () => number | undefined };

/**
 * permessage-deflate's cost and gain: the sustained closed loop of the Herald part (`send.user`, one user each),
 * on a fresh stack per round, the connector's `HERALD_WS_COMPRESSION` off and on (clients offer the extension
 * either way when on; the threshold is the connector's default), at two payload sizes. Per round: msg/s, CPU per
 * message, bytes on the clients' TCP sockets per message, and the connector's RSS per connection.
 */
export async function runCompressionCost(
  nats: Nats,
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<CompressionResult> {
  const variants = {
    small: realisticPayloads(COMPRESSION_BODY_BYTES.small),
    large: realisticPayloads(COMPRESSION_BODY_BYTES.large),
  };
  const samples = (Object.keys(variants) as PayloadSize[]).map((payload) =>
    sample(payload, variants[payload]),
  );
  // Off and on next to each other and the sizes alternating, so a swing of other work lands on every setting.
  const order: [PayloadSize, "off" | "on"][] = [
    ["small", "off"],
    ["small", "on"],
    ["large", "off"],
    ["large", "on"],
    ["small", "off"],
    ["small", "on"],
    ["large", "off"],
    ["large", "on"],
  ];
  const rounds: CompressionRound[] = [];
  for (const [k, [payload, compression]] of order.entries()) {
    const round = await closedLoop(nats, o, `${runId}z${k}`, payload, compression, variants[payload]);
    rounds.push(round);
    log(
      `compression ${compression}, ${payload} payloads: ${round.msgsPerSec} msg/s, connector ` +
        `${round.cpuMicrosPerMessage.connector} µs CPU per message, ${round.wire.serverToClientBytesPerMessage} B ` +
        `per message on the wire, RSS +${round.memory.loadedPerConnectionBytes} B per connection (load ${round.loadAverage})`,
    );
  }
  return summarizeCompression(rounds, samples);
}

/** Body and frame sizes of a payload size, and the share of the frame deflate keeps. */
function sample(payload: PayloadSize, variants: Record<string, unknown>[]): CompressionSample {
  const id = messageId("mj3k2a1b", 2, 12_345);
  const data = (content: Record<string, unknown>) => ({
    ...content,
    ph: 2,
    i: 12_345,
    t: nowUs(),
    w: wallUs(),
    p: "",
  });
  const bodies = variants.map((content) => JSON.stringify({ id, data: data(content) } satisfies SendBody));
  const frames = variants.map((content) => sampleFrame(id, data(content)));
  const mean = (texts: string[]) =>
    Math.round(texts.reduce((a, t) => a + Buffer.byteLength(t), 0) / Math.max(1, texts.length));
  return {
    payload,
    bodyBytes: mean(bodies),
    frameBytes: mean(frames),
    offlineDeflateRatio: deflateRatio(frames),
  };
}

/** Every Herald socket negotiated the extension with compression on, none with it off; else the round measured nothing. */
async function checkNegotiated(pool: ClientPool, compression: "off" | "on", users: number) {
  const wire = await pool.wire();
  const expected = compression === "on" ? users : 0;
  if (wire.sockets !== users || wire.deflate !== expected)
    throw new Error(
      `compression ${compression}: ${wire.deflate} of ${wire.sockets} sockets negotiated permessage-deflate, expected ${expected} of ${users}`,
    );
}

/** CPU µs per message by process, the four Herald processes' sum (`services`) and the load generator's (`clients`). */
function cpuFigures(used: Record<string, number>, messages: number): Record<string, number> {
  const per = (seconds: number) => Math.round((seconds * 1e6) / messages);
  const services = ["connector", "router", "persistence", "nats-server"];
  const clients = Object.keys(used).filter((name) => name.startsWith("clients"));
  const sum = (names: string[]) => names.reduce((a, name) => a + (used[name] ?? Number.NaN), 0);
  return {
    ...Object.fromEntries(services.map((name) => [name, per(used[name] ?? Number.NaN)])),
    services: per(sum(services)),
    clients: per(sum(clients)),
  };
}

function wireFigures(before: WireStats, after: WireStats, messages: number): CompressionRound["wire"] {
  return {
    serverToClientBytesPerMessage: Math.round((after.bytesRead - before.bytesRead) / messages),
    clientToServerBytesPerMessage: Math.round((after.bytesWritten - before.bytesWritten) / messages),
    deflateSockets: after.deflate,
  };
}

function memoryFigures(
  connections: number,
  rss: { before: number; idle: number; loaded: number },
): CompressionRound["memory"] {
  return {
    connections,
    rssBeforeBytes: rss.before,
    rssIdleBytes: rss.idle,
    rssLoadedBytes: rss.loaded,
    idlePerConnectionBytes: Math.round((rss.idle - rss.before) / connections),
    loadedPerConnectionBytes: Math.round((rss.loaded - rss.before) / connections),
  };
}

/** One round on a fresh stack: connect the clients, warm up, then the measured closed loop. */
async function closedLoop(
  nats: Nats,
  o: BenchOptions,
  runId: string,
  payload: PayloadSize,
  compression: "off" | "on",
  variants: Record<string, unknown>[],
): Promise<CompressionRound> {
  const s = subjects(DEFAULT_PREFIX);
  const stack = await startStack({
    nats,
    env: { HERALD_PREFIX: DEFAULT_PREFIX },
    envFor: { connector: { HERALD_WS_COMPRESSION: compression === "on" ? "true" : "false" } },
  });
  const pool = startClientPool(o.clientProcs);
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const receipts = new ReceiptCounter(nc, s);
  try {
    const js = jetstream(nc);
    const users = userIds(o.users);
    const sendSubjects = users.map((user) => s.sendUser(userToken(user)));
    const encoder = new TextEncoder();
    const publish = (phase: number, i: number) => {
      const id = messageId(runId, phase, i);
      const content = variants[i % variants.length] ?? {};
      const body: SendBody = { id, data: { ...content, ph: phase, i, t: nowUs(), w: wallUs(), p: "" } };
      return js.publish(sendSubjects[i % users.length] ?? "", encoder.encode(JSON.stringify(body)), {
        msgID: id,
      });
    };
    const connectorPid = stack.connectors[0]?.pid ?? 0;
    await sleep(1_000);
    const rssBefore = await rssBytes(connectorPid);
    const tokens = await Promise.all(users.map((sub) => signToken({ sub, did: "bench" }, stack.jwtSecret)));
    const targets = users.map((user, k) => ({ user, url: stack.wsUrl(tokens[k]) }));
    await pool.connect("herald", targets, { deflate: compression === "on" });
    await sleep(2_000);
    const rssIdle = await rssBytes(connectorPid);
    await checkNegotiated(pool, compression, users.length);
    const loop = { pool, receipts, runId, window: o.window, inflight: o.inflight, publish };
    const run = async (phase: number, n: number) => {
      await closedLoopPhase(loop, phase, n);
      return pool.waitForAll(n, { idleMs: 5_000, timeoutMs: 30_000 });
    };
    await run(1, Math.min(o.messages, users.length * 2));
    await sleep(500);
    const cpu = await cpuMeter({
      connector: connectorPid,
      router: stack.routers[0]?.pid,
      persistence: stack.persistence[0]?.pid,
      "nats-server": nats.pid(),
      ...Object.fromEntries(pool.pids.map((pid, i) => [`clients${i}`, pid])),
    });
    const wireBefore = await pool.wire();
    const start = nowUs();
    const delivered = await run(2, o.messages);
    const used = await cpu();
    const wireAfter = await pool.wire();
    await sleep(500);
    const rssLoaded = await rssBytes(connectorPid);
    return {
      payload,
      compression,
      messages: o.messages,
      receipts: receipts.unique,
      delivered: delivered.unique,
      msgsPerSec: perSecond(receipts.unique, receipts.lastUs - start),
      cpuMicrosPerMessage: cpuFigures(used, o.messages),
      wire: wireFigures(wireBefore, wireAfter, o.messages),
      memory: memoryFigures(users.length, { before: rssBefore, idle: rssIdle, loaded: rssLoaded }),
      loadAverage: loadAverage1m(),
    };
  } finally {
    receipts.stop();
    await nc.close().catch(() => undefined);
    await pool.stop().catch(() => undefined);
    await stack.stop().catch(() => undefined);
  }
}
