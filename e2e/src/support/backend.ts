import { type NatsIdentity, subjects, userToken } from "@herald/protocol";
import { type NatsTarget, natsClientOptions } from "@herald/testkit";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type PubAck,
} from "@nats-io/jetstream";
import { connect, headers, type NatsConnection, type Server } from "@nats-io/transport-node";

export type DeadLetter = {
  subject: string;
  reason: string;
  header: string | undefined;
  /** `Herald-Original-Subject`: where the backend published it. */
  originalSubject: string | undefined;
  data: Uint8Array;
};

export type BackendOptions = {
  /** The NATS identity it connects as: a backend is a `publisher`; dead letters and stream info need `operator`. */
  identity?: NatsIdentity;
  prefix?: string;
  /** How long a JetStream publish waits for its PubAck before it fails (and a careful caller retries). */
  publishTimeoutMs?: number;
  /** nats.js `pingInterval` (default 2 min): a server that hangs is noticed after 2 to 3 of them. */
  pingIntervalMs?: number;
};

/**
 * A backend as Herald's users write one: JetStream publishes on the public subjects, plus reads of what
 * Herald exposes (dead letters, receipts, cursors) for assertions.
 */
export async function connectBackend(target: NatsTarget | string, options: BackendOptions = {}) {
  const identity = options.identity ?? "publisher";
  const nc: NatsConnection = await connect({
    ...natsClientOptions(target, identity),
    name: `herald-e2e-${identity}`,
    noAsyncTraces: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...pingOptions(options.pingIntervalMs),
  });
  const js = jetstream(nc, { timeout: options.publishTimeoutMs ?? 10_000 });
  // Opened on first use: the account info check it starts with is not the publisher's to make.
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = () => {
    manager ??= jetstreamManager(nc);
    return manager;
  };
  const s = subjects(options.prefix ?? (typeof target === "string" ? undefined : target.auth?.prefix));
  const encoder = new TextEncoder();

  /**
   * Publishes `body`; an object's `id` also goes in `Nats-Msg-Id` unless `msgId` is given, as the contract
   * asks of a backend that retries: the stream deduplicates by that header, not by the body.
   */
  async function publish(subject: string, body: unknown, msgId?: string): Promise<PubAck> {
    const payload = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    const key = msgId ?? bodyId(body);
    return js.publish(
      subject,
      typeof payload === "string" ? encoder.encode(payload) : payload,
      key ? { msgID: key } : {},
    );
  }

  return {
    nc,
    js,
    jsm,
    s,
    publish,
    toUser: (userId: string, body: unknown, msgId?: string) =>
      publish(s.sendUser(userToken(userId)), body, msgId),
    toUsers: (body: unknown, msgId?: string) => publish(s.sendUsers, body, msgId),
    /**
     * Publishes many messages with a window of outstanding PubAcks, returning when all are acknowledged. Like
     * a careful backend, it retries a publish that got no PubAck (same id, so Herald keeps one) for
     * `retryForMs`.
     */
    pipeline: (
      count: number,
      make: (i: number) => { subject: string; body: unknown },
      window = 256,
      retryForMs = 0,
    ) => pipeline(publish, count, make, window, retryForMs),
    /** Everything recorded on the dead-letter stream so far. */
    deadLetters: async () => deadLetters(await jsm(), s),
    /** Messages stored in one user's mailbox. */
    async mailboxCount(userId: string): Promise<number> {
      const info = await (await jsm()).streams.info(s.streams.mailbox, {
        subjects_filter: s.mailbox(userToken(userId)),
      });
      return info.state.subjects?.[s.mailbox(userToken(userId))] ?? 0;
    },
    async request<T>(subject: string, body: unknown): Promise<T> {
      const reply = await nc.request(
        subject,
        encoder.encode(typeof body === "string" ? body : JSON.stringify(body)),
        {
          timeout: 5_000,
        },
      );
      return reply.json<T>();
    },
    headers,
    close: () => nc.close(),
  };
}

/**
 * As the services connect (service-kit's connectNats): a hung server is noticed after 2–3 pings, and a reconnect
 * dials the server tried least recently rather than the one just lost.
 */
function pingOptions(pingIntervalMs: number | undefined) {
  if (pingIntervalMs === undefined) return {};
  return {
    pingInterval: pingIntervalMs,
    reconnectToServer: (pool: ReadonlyArray<Server>) =>
      pool.reduce((a, b) => (b.lastConnect < a.lastConnect ? b : a)),
  };
}

/**
 * Publishes `count` messages with `window` PubAcks outstanding, returning when all are acknowledged. Like a
 * careful backend, it retries a publish that got no PubAck (same id, so Herald keeps one) for `retryForMs`.
 */
async function pipeline(
  publish: (subject: string, body: unknown) => Promise<PubAck>,
  count: number,
  make: (i: number) => { subject: string; body: unknown },
  window: number,
  retryForMs: number,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { subject, body } = make(i);
      const deadline = Date.now() + retryForMs;
      for (;;) {
        try {
          await publish(subject, body);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** Everything recorded on the dead-letter stream so far. */
async function deadLetters(jsm: JetStreamManager, s: ReturnType<typeof subjects>): Promise<DeadLetter[]> {
  const info = await jsm.streams.info(s.streams.dead).catch((err: unknown) => {
    // No stream yet means no dead letters; anything else (a permission violation) is an answer to see.
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  });
  if (!info || info.state.messages === 0) return [];
  const letters: DeadLetter[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(s.streams.dead, { seq }).catch(() => null);
    if (!m) continue;
    letters.push({
      subject: m.subject,
      reason: m.subject.slice(`${s.prefix}.dead.`.length),
      header: m.header?.get("Herald-Dead-Reason"),
      originalSubject: m.header?.get("Herald-Original-Subject"),
      data: m.data,
    });
  }
  return letters;
}

function bodyId(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || body instanceof Uint8Array || !("id" in body))
    return undefined;
  return typeof body.id === "string" ? body.id : undefined;
}

export type Backend = Awaited<ReturnType<typeof connectBackend>>;
