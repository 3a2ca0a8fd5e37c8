import { Header, mailboxEntrySchema, type Subjects, userToken } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";

/** A user message as it reaches a session, live or replayed, with its frame already serialised once. */
export type Delivery = { id: string; seq: number; prev: number; frame: string };

export type FeedListener = (delivery: Delivery) => void;

/** Serialises a user `message` frame once per message, shared by every connection it goes to. */
export function messageFrame(id: string, seq: number, data: unknown, ts: number): string {
  return JSON.stringify({ type: "message", id, seq, data, ts });
}

/**
 * One core-NATS subscription to `<p>.live.<userToken>` per user with connections here, shared by all of that
 * user's sessions. The mailbox stream republishes each stored message there with its sequence and the
 * user's previous sequence, which sessions use to detect gaps.
 */
export class UserFeeds {
  private readonly feeds = new Map<string, { sub: Subscription; listeners: Set<FeedListener> }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly s: Subjects,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.feeds.size;
  }

  /** Starts following a user; the returned function stops. The subscription is sent before it returns. */
  follow(userId: string, listener: FeedListener): () => void {
    const token = userToken(userId);
    let feed = this.feeds.get(token);
    if (!feed) {
      const listeners = new Set<FeedListener>();
      const sub = this.nc.subscribe(this.s.live(token), {
        callback: (err, msg) => {
          if (err) {
            this.logger.warn({ err, token }, "live subscription error");
            return;
          }
          const delivery = parseLive(msg);
          if (!delivery) {
            this.logger.warn({ subject: msg.subject }, "ignoring malformed live message");
            return;
          }
          for (const l of listeners) l(delivery);
        },
      });
      feed = { sub, listeners };
      this.feeds.set(token, feed);
    }
    feed.listeners.add(listener);
    const current = feed;
    return () => {
      current.listeners.delete(listener);
      if (current.listeners.size === 0 && this.feeds.get(token) === current) {
        current.sub.unsubscribe();
        this.feeds.delete(token);
      }
    };
  }
}

function parseLive(msg: Msg): Delivery | undefined {
  const seq = Number(msg.headers?.get(Header.StreamSequence));
  const prev = Number(msg.headers?.get(Header.LastSequence) || 0);
  if (!Number.isSafeInteger(seq) || seq <= 0 || !Number.isSafeInteger(prev)) return undefined;
  let entry: ReturnType<typeof mailboxEntrySchema.safeParse>;
  try {
    entry = mailboxEntrySchema.safeParse(msg.json());
  } catch {
    return undefined;
  }
  if (!entry.success) return undefined;
  const { id, data, ts } = entry.data;
  return { id, seq, prev, frame: messageFrame(id, seq, data, ts) };
}
