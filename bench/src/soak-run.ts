import { DEFAULT_PREFIX, type SendBody, subjects, userToken } from "@herald/protocol";
import { JsPublisher } from "@herald/service-kit";
import { type NatsServer, signToken, startStack } from "@herald/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startClientPool } from "./client-pool.js";
import { sleep } from "./clock.js";
import { FANOUT_CONNECTOR_ENV } from "./fanout-run.js";
import { dataMaker, idPrefix, messageId } from "./frames.js";
import { type BenchOptions, jsonEnv } from "./options.js";
import { paced } from "./pacing.js";
import { fetchMetricsText, rssBytes } from "./procfs.js";
import { ReceiptCounter } from "./receipts.js";
import { loadAverage1m } from "./results.js";
import { type SoakResult, type SoakSample, soakTrends, storedSlope } from "./soak-report.js";

/** How often every process's memory is read. */
const SAMPLE_MS = 10_000;
const HEAP_USED = /^herald_nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\d+(?:\.\d+)?)/m;

/** heapUsed of a Herald service from its /metrics page; undefined when unreadable. */
async function heapUsed(adminUrl: string): Promise<number | undefined> {
  const match = HEAP_USED.exec(await fetchMetricsText(adminUrl));
  return match?.[1] ? Number(match[1]) : undefined;
}

type Watched = { name: string; pid: number | undefined; adminUrl?: string };

/** `promise`, or undefined after `ms`: a reading that hangs must not stop the sampling (it did, once). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** All streams' bytes and messages, from the account's JetStream usage. */
async function storedNow(jsm: JetStreamManager): Promise<SoakSample["stored"]> {
  const info = await jsm.getAccountInfo();
  const streams = await jsm.streams.list().next();
  const messages = streams.reduce((sum, stream) => sum + stream.state.messages, 0);
  return { bytes: info.storage + info.memory, messages };
}

async function sample(
  watched: readonly Watched[],
  atSec: number,
  jsm: JetStreamManager,
): Promise<SoakSample> {
  const out: SoakSample = { atSec, rss: {}, heapUsed: {} };
  const stored = await within(
    storedNow(jsm).catch(() => undefined),
    5_000,
  );
  if (stored) out.stored = stored;
  await Promise.all(
    watched.map(async ({ name, pid, adminUrl }) => {
      const rss = pid
        ? await within(
            rssBytes(pid).catch(() => undefined),
            5_000,
          )
        : undefined;
      if (rss !== undefined) out.rss[name] = rss;
      const heap = adminUrl ? await within(heapUsed(adminUrl), 5_000) : undefined;
      if (heap !== undefined) out.heapUsed[name] = heap;
    }),
  );
  return out;
}

/**
 * Connects one client per user. Tokens outlive the run: at the default hour an hour's soak ended with every
 * connection closed as expired and the messages of its last seconds waiting in the mailboxes for a reconnect
 * that never came.
 */
async function connectClients(
  pool: ReturnType<typeof startClientPool>,
  stack: Awaited<ReturnType<typeof startStack>>,
  users: string[],
  minutes: number,
): Promise<void> {
  const exp = `${minutes + 30}m`;
  const tokens = await Promise.all(
    users.map((sub) => signToken({ sub, did: "bench", exp }, stack.jwtSecret)),
  );
  await pool.connect(
    "herald",
    users.map((user, k) => ({ user, url: stack.wsUrl(tokens[k]) })),
  );
}

function startSoakStack(nats: NatsServer, env: Record<string, string>) {
  // All clients come from 127.0.0.1: the per-address limit is raised as in the other many-client parts.
  return startStack({
    nats,
    env: { HERALD_PREFIX: DEFAULT_PREFIX, ...env },
    // A machine shared with other work can take longer than the default to start a service.
    serviceOptions: { startTimeoutMs: 90_000 },
    readyTimeoutMs: 90_000,
    envFor: { connector: FANOUT_CONNECTOR_ENV },
  });
}

/** Reads every watched process each SAMPLE_MS into `samples` until `durationMs` after `start`. */
async function sampleUntil(
  watched: Watched[],
  jsm: JetStreamManager,
  samples: SoakSample[],
  start: number,
  durationMs: number,
  log: (line: string) => void,
): Promise<void> {
  while (Date.now() - start < durationMs) {
    samples.push(await sample(watched, Math.round((Date.now() - start) / 1000), jsm));
    if (samples.length % 30 === 0) log(`soak: ${Math.round((Date.now() - start) / 60_000)} min`);
    await sleep(SAMPLE_MS - ((Date.now() - start) % SAMPLE_MS));
  }
}

/**
 * The one-hour soak: the full stack on a private nats-server (persistence, router, presence, one connector),
 * `soakConnections` clients that ack like the SDK, and `soakRate` targeted messages per second round-robin over
 * them for `soakMinutes`. Every process's RSS (and the services' heap) is read every 10 s; every message has an
 * id, and one without a receipt at the end is lost.
 */
export async function runSoak(
  nats: NatsServer,
  o: BenchOptions,
  runId: string,
  log: (line: string) => void,
): Promise<SoakResult> {
  const s = subjects(DEFAULT_PREFIX);
  const loadStart = loadAverage1m();
  const env = jsonEnv("BENCH_SOAK_ENV");
  const stack = await startSoakStack(nats, env);
  const pool = startClientPool(1);
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const receipts = new ReceiptCounter(nc, s);
  const publisher = new JsPublisher(nc, { timeoutMs: 30_000 });
  try {
    const users = Array.from({ length: o.soakConnections }, (_, k) => `soak-u${k}`);
    await connectClients(pool, stack, users, o.soakMinutes);
    log(`soak: ${users.length} clients connected`);
    const watched: Watched[] = [
      { name: "nats-server", pid: nats.pid() },
      ...stack.all().map((service) => ({ name: service.name, pid: service.pid, adminUrl: service.adminUrl })),
    ];
    const durationMs = o.soakMinutes * 60_000;
    const total = Math.round((o.soakRate * durationMs) / 1000);
    const phase = 1;
    await pool.reset({ phase, messages: total, recordLatencies: false });
    receipts.reset(idPrefix(runId, phase), total);
    const sendSubjects = users.map((user) => s.sendUser(userToken(user)));
    const encoder = new TextEncoder();
    const make = dataMaker(o.payloadBytes, (data) =>
      JSON.stringify({ id: messageId(runId, 9, 9_999_999), data } satisfies SendBody),
    );
    let publishErrors = 0;
    const samples: SoakSample[] = [];
    const start = Date.now();
    const sampler = sampleUntil(watched, jsm, samples, start, durationMs, log);
    const published = await paced(o.soakRate, durationMs, (i) => {
      const id = messageId(runId, phase, i);
      const body: SendBody = { id, data: make(phase, i) };
      const payload = encoder.encode(JSON.stringify(body));
      publisher.publish(sendSubjects[i % users.length] ?? "", payload, { msgID: id }).catch(() => {
        publishErrors++;
      });
    });
    await sampler;
    await receipts.wait({ idleMs: 30_000, timeoutMs: 300_000 });
    // After the backlog drained: the last reading, so the end figures are not a burst's.
    samples.push(await sample(watched, Math.round((Date.now() - start) / 1000), jsm));
    const clients = await pool.stats();
    const result: SoakResult = {
      connections: users.length,
      rate: o.soakRate,
      minutes: o.soakMinutes,
      published,
      publishErrors,
      delivered: clients.unique,
      duplicates: clients.duplicates,
      receipted: receipts.unique,
      lost: published - receipts.unique,
      closedEarly: clients.closedEarly,
      samples,
      trends: soakTrends(samples),
      storedSlopeBytesPerMin: storedSlope(samples),
      env,
      loadAverage: [loadStart, loadAverage1m()],
    };
    log(
      `soak: ${result.published} published, ${result.receipted} receipted, lost ${result.lost}, ` +
        `publish errors ${publishErrors}, connections closed by a connector ${result.closedEarly}`,
    );
    return result;
  } finally {
    receipts.stop();
    publisher.close();
    await nc.close().catch(() => undefined);
    await pool.stop().catch(() => undefined);
    await stack.stop().catch(() => undefined);
  }
}
