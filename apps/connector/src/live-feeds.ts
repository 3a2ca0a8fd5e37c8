import {
  type ChannelReplayReply,
  Header,
  type MailboxEntry,
  type MailboxMessage,
  readMailboxEntry,
} from "@herald/protocol";
import { type HandlerGuard, reportFailure, runGuarded, tracingEnabled } from "@herald/service-kit";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { type HeaderValues, liveHeaders } from "./live-headers.js";

/**
 * A user message as it reaches a session, live or replayed, with its frame already serialised once; `ts` is when
 * the mailbox stored it (a channel message: when the intake stream did), in ms.
 */
export type Delivery = {
  id: string;
  seq: number;
  prev: number;
  ts: number;
  frame: string | Buffer;
  /** The router's write span (`traceparent`), on live messages while tracing is on. */
  trace?: string | undefined;
};

/**
 * What follows a live subject: a `GaplessFeed`, or any object with `push`. An object rather than callbacks, so
 * an idle connection holds no closures for it. `resync` hears of live messages that could not be read (they are
 * then missing from the feed, which can catch up by replay rather than wait for the next message to show the gap).
 */
export interface LiveListener<T = Delivery> {
  push(item: T): void;
  resync?(): void;
}

/** Serialises a user `message` frame once per message, shared by every connection it goes to. */
export function messageFrame(id: string, seq: number, data: unknown, ts: number): string {
  return JSON.stringify({ type: "message", id, seq, data, ts });
}

/** A channel replay reply as a page of deliveries for a `GaplessFeed` (offsets are the sequences). */
export function channelPage(reply: ChannelReplayReply, channel: string) {
  const items: Delivery[] = reply.messages.map((m) => ({
    id: m.id,
    seq: m.offset,
    prev: m.prev,
    ts: m.ts,
    frame: channelFrame(m.id, channel, m.offset, m.data, m.ts),
  }));
  return { items, scannedTo: reply.scannedTo, done: reply.done };
}

/** Serialises a channel `message` frame once per message. */
export function channelFrame(id: string, channel: string, offset: number, data: unknown, ts: number): string {
  return JSON.stringify({ type: "message", id, channel, offset, data, ts });
}

/**
 * One core-NATS subscription per live subject with listeners here (a user's `<p>.live.<token>`, a channel's
 * `<p>.clive.<group>.<channel>`), shared by every listener. Streams republish each stored message there with
 * its sequence and the subject's previous sequence, which listeners use to detect gaps. Each message is parsed
 * and serialised once, whatever the number of listeners. A message that fails to parse, or a listener that
 * throws, is reported (`guard`) and never stops the subscription or the other listeners.
 */
export class LiveFeeds<T> {
  /** Most subjects have one listener (one device of a user), held without a Set until a second comes. */
  private readonly feeds = new Map<string, Feed<T>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly parse: (msg: Msg, key: string) => T | undefined,
    private readonly guard: HandlerGuard,
  ) {}

  get size(): number {
    return this.feeds.size;
  }

  /**
   * The one callback of every subscription: subjects are exact, so a message's subject names its feed. Shared
   * rather than a closure per subscription, which an idle connection would hold (~120 B with its context).
   */
  private readonly onMessage = (err: Error | null, msg: Msg): void => {
    if (err) {
      this.guard.logger.warn({ err }, "live subscription error");
      return;
    }
    const feed = this.feeds.get(msg.subject);
    if (feed) runGuarded(this.guard, "live", () => this.dispatch(msg, feed));
  };

  private dispatch(msg: Msg, feed: Feed<T>): void {
    const item = this.parse(msg, feed.key);
    const { listeners } = feed;
    if (item === undefined) {
      this.guard.errors.inc({ handler: "live", code: "invalid_message" });
      this.guard.logger.warn({ subject: msg.subject }, "ignoring malformed live message");
      if (listeners instanceof Set) for (const l of listeners) l.resync?.();
      else listeners.resync?.();
      return;
    }
    if (listeners instanceof Set) for (const l of listeners) this.push(l, item);
    else this.push(listeners, item);
  }

  private push(listener: LiveListener<T>, item: T): void {
    try {
      listener.push(item);
    } catch (err) {
      reportFailure(this.guard, "live", err);
    }
  }

  /** Starts following `subject` with `listener` (until `unfollow`). The subscription is sent before it returns. */
  follow(subject: string, key: string, listener: LiveListener<T>): void {
    const feed = this.feeds.get(subject);
    if (feed) {
      if (feed.listeners instanceof Set) feed.listeners.add(listener);
      else if (feed.listeners !== listener) feed.listeners = new Set([feed.listeners, listener]);
      return;
    }
    this.feeds.set(subject, {
      sub: this.nc.subscribe(subject, { callback: this.onMessage }),
      key,
      listeners: listener,
    });
  }

  /** Stops `listener` following `subject`; the subscription ends with its last listener. */
  unfollow(subject: string, listener: LiveListener<T>): void {
    const feed = this.feeds.get(subject);
    if (!feed) return;
    if (feed.listeners instanceof Set) {
      if (!feed.listeners.delete(listener) || feed.listeners.size > 0) return;
    } else if (feed.listeners !== listener) {
      return;
    }
    feed.sub.unsubscribe();
    this.feeds.delete(subject);
  }
}

type Feed<T> = { sub: Subscription; key: string; listeners: LiveListener<T> | Set<LiveListener<T>> };

/** The sequence headers RePublish adds, or undefined when they are missing. */
function positionOf(headers: HeaderValues | undefined): { seq: number; prev: number } | undefined {
  const seq = Number(headers?.get(Header.StreamSequence));
  const prev = Number(headers?.get(Header.LastSequence) || 0);
  if (!Number.isSafeInteger(seq) || seq <= 0 || !Number.isSafeInteger(prev)) return undefined;
  return { seq, prev };
}

/** The `traceparent` (any case) while tracing is on, read from the raw header block like the positions. */
function traceOf(headers: HeaderValues | undefined): string | undefined {
  if (!tracingEnabled()) return undefined;
  return headers?.getIgnoreCase("traceparent") || undefined;
}

const ENTRY_PREFIX = '{"id":"';
const TS_SUFFIX = /,"ts":(\d+)}$/;

/**
 * The id of a stored entry and the entry's JSON text, when it has the shape the router writes
 * (`{"id":…,"data":…,"ts":…}`, keys in that order). Frames are then spliced from that text rather than parsed
 * and serialised again: this runs for every message, and the router already validated what it wrote.
 */
export function spliceableEntry(text: string): { id: string; ts: number; text: string } | undefined {
  if (!text.startsWith(ENTRY_PREFIX) || !text.endsWith("}")) return undefined;
  // The id is a JSON string: find its closing quote, skipping escaped characters.
  let end = ENTRY_PREFIX.length;
  while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
  const ts = text.startsWith(',"data":', end + 1) ? TS_SUFFIX.exec(text)?.[1] : undefined;
  if (ts === undefined) return undefined;
  try {
    return { id: JSON.parse(text.slice(ENTRY_PREFIX.length - 1, end + 1)) as string, ts: Number(ts), text };
  } catch {
    return undefined;
  }
}

/** A channel entry `{id, data, ts}`, checked by hand (the slow path, for entries not shaped as the router writes). */
function entryOf(msg: Msg): MailboxEntry | undefined {
  let value: unknown;
  try {
    value = msg.json();
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { id, data, ts } = value as Partial<MailboxEntry>;
  if (typeof id !== "string" || typeof ts !== "number" || data === undefined) return undefined;
  return { id, data, ts };
}

/**
 * A user's live message: the stored entry read by the one mailbox parser, `ts` from RePublish's
 * `Nats-Time-Stamp`. Undefined for an invalid entry: it is skipped here, and the next message then shows a gap
 * whose replay dead-letters it (persistence) and steps over it.
 */
export function parseUserLive(msg: Msg): Delivery | undefined {
  const headers = liveHeaders(msg);
  const position = positionOf(headers);
  if (!position) return undefined;
  const storedAtMs = Date.parse(headers?.get(Header.Timestamp) ?? "");
  const entry = readMailboxEntry({
    payload: msg.data,
    seq: position.seq,
    storedAtMs: Number.isFinite(storedAtMs) ? storedAtMs : Date.now(),
    msgId: headers?.get(Header.MsgId) || undefined,
  });
  if (entry.kind === "invalid") return undefined;
  const trace = traceOf(headers);
  return {
    id: entry.id,
    ...position,
    ts: entry.ts,
    frame: userFrame(entry, position.seq),
    trace,
  };
}

/**
 * The `message` frame of a valid entry. A bare body (`data` and its own `id` only, as backends and the router
 * write it) is spliced into the frame: `data` is not serialised again (this runs for every message).
 */
function userFrame(entry: MailboxMessage, seq: number): string {
  const { text } = entry;
  if (!entry.bare || !text.startsWith("{") || !text.endsWith("}")) {
    return messageFrame(entry.id, seq, entry.data, entry.ts);
  }
  const id = entry.idInBody ? "" : `"id":${JSON.stringify(entry.id)},`;
  return `{"type":"message",${id}"seq":${seq},"ts":${entry.ts},${text.slice(1)}`;
}

/** A channel message; `key` is the channel name clients know (e.g. `$broadcast` for broadcasts). */
export function parseChannelLive(msg: Msg, channel: string): Delivery | undefined {
  const headers = liveHeaders(msg);
  const position = positionOf(headers);
  if (!position) return undefined;
  const trace = traceOf(headers);
  const fast = spliceableEntry(msg.string());
  // Encoded once here: a channel message usually goes to many sockets.
  if (fast) {
    const head = `{"type":"message","channel":${JSON.stringify(channel)},"offset":${position.seq},`;
    return { id: fast.id, ...position, ts: fast.ts, frame: Buffer.from(head + fast.text.slice(1)), trace };
  }
  const entry = entryOf(msg);
  if (!entry) return undefined;
  return {
    id: entry.id,
    ...position,
    ts: entry.ts,
    frame: Buffer.from(channelFrame(entry.id, channel, position.seq, entry.data, entry.ts)),
    trace,
  };
}
