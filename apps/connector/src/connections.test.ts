import { CloseCode } from "@herald/protocol";
import { createLogger } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import type { Identity } from "./auth.js";
import type { ChannelSubscriptions } from "./channel-subscriptions.js";
import { Connection, type ConnectionDeps } from "./connection.js";
import { Connections } from "./connections.js";
import { SendBudget } from "./send-budget.js";
import type { Session } from "./session.js";
import type { Transport, TransportEvents } from "./transport.js";

/** A transport that records what the connection does to it. */
class FakeTransport implements Transport {
  readonly kind = "websocket";
  open = true;
  bufferedAmount = 0;
  sent: string[] = [];
  closed: number[] = [];
  events: TransportEvents | undefined;
  listen(events: TransportEvents): void {
    this.events = events;
  }
  send(frame: string | Buffer): void {
    this.sent.push(frame.toString());
  }
  close(code: number): void {
    this.closed.push(code);
    this.open = false;
    this.events?.onGone();
  }
  terminate(): void {
    this.close(1006);
  }
  /** Whether the client answers pings; `pings` counts them. */
  answering = true;
  pings = 0;
  keepAlive(): boolean {
    if (!this.answering) return false;
    this.pings++;
    return true;
  }
}

function identityUntil(expiresAt: number): Identity {
  return { userId: "u", deviceId: "d", channels: [], expiresAt, channel: undefined };
}

function setup(overrides: Partial<ConnectionDeps> = {}) {
  const made = { sessions: 0, channels: 0 };
  const deps: ConnectionDeps = {
    verify: async () => {
      throw new Error("not used");
    },
    handshakeTimeoutMs: 10_000,
    maxBufferedBytes: 1024 * 1024,
    sendBudget: new SendBudget({ perUser: 1024 * 1024, total: 1024 * 1024 }),
    logger: createLogger("test", "silent"),
    createSession: () => {
      made.sessions++;
      return { start: () => {}, close: () => {}, inflightCount: 0 } as unknown as Session;
    },
    createChannels: () => {
      made.channels++;
      return {
        subscribe: async () => undefined,
        closeAll: () => {},
      } as unknown as ChannelSubscriptions;
    },
    rateLimit: { perSecond: 10, burst: 10 },
    onOpen: () => {},
    onClose: () => {},
    onSlowConsumer: () => {},
    ...overrides,
  };
  const connections = new Connections();
  const open = (expiresAt: number) => {
    const transport = new FakeTransport();
    const connection = new Connection(transport, deps, identityUntil(expiresAt));
    connections.add(connection);
    return { transport, connection };
  };
  /** A connection that has yet to send its `auth` frame. */
  const pending = () => {
    const transport = new FakeTransport();
    const connection = new Connection(transport, deps, undefined);
    return { transport, connection };
  };
  return { connections, open, pending, made };
}

const identity = identityUntil(Date.now() + 60_000);
const auth = JSON.stringify({ type: "auth", token: "t" });
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 30));

describe("the handshake timeout", () => {
  it("closes a connection that sends no auth frame with 4004", async () => {
    const { pending } = setup({ handshakeTimeoutMs: 5 });
    const { transport } = pending();
    await nextTurn();
    expect(transport.closed).toEqual([CloseCode.HandshakeTimeout]);
  });

  it("keeps an auth frame read in the same turn as the timeout: it had arrived, the loop was behind", async () => {
    const { pending } = setup({ handshakeTimeoutMs: 5, verify: async () => identity });
    const { transport, connection } = pending();
    // Due at the same time and queued after the handshake timer: what a socket read behind it would be.
    setTimeout(() => transport.events?.onFrame(auth, false), 5);
    await nextTurn();
    expect(transport.closed).toEqual([]);
    expect(connection.identity).toEqual(identity);
  });

  it("does not count a slow token check against the client", async () => {
    let verified: ((value: Identity) => void) | undefined;
    const verify = () => new Promise<Identity>((resolve) => (verified = resolve));
    const { pending } = setup({ handshakeTimeoutMs: 5, verify });
    const { transport, connection } = pending();
    transport.events?.onFrame(auth, false);
    await nextTurn();
    expect(transport.closed).toEqual([]);
    verified?.(identity);
    await nextTurn();
    expect(connection.identity).toEqual(identity);
    expect(transport.sent[0]).toContain('"welcome"');
  });
});

describe("connections", () => {
  it("closes expired tokens' connections with 4003 on a sweep, and only those", () => {
    const { connections, open } = setup();
    const now = Date.now();
    const soon = open(now + 1_000);
    const later = open(now + 60_000);
    connections.expireAll(now);
    expect(soon.transport.closed).toEqual([]);
    connections.expireAll(now + 1_000);
    expect(soon.transport.closed).toEqual([CloseCode.TokenExpired]);
    expect(later.transport.closed).toEqual([]);
    expect(connections.size).toBe(1);
    // A closing connection is not closed again by the next sweep.
    connections.expireAll(now + 2_000);
    expect(soon.transport.closed).toEqual([CloseCode.TokenExpired]);
  });

  it("makes the channel subscriptions on the first subscribe, not for every connection", async () => {
    const { open, made } = setup();
    const { transport, connection } = open(Date.now() + 60_000);
    expect(made).toEqual({ sessions: 1, channels: 0 });
    expect(connection.channels).toBeUndefined();
    transport.events?.onFrame(JSON.stringify({ type: "subscribe", channel: "news" }), false);
    transport.events?.onFrame(JSON.stringify({ type: "subscribe", channel: "sport" }), false);
    expect(made.channels).toBe(1);
    expect(connection.channels).toBeDefined();
  });

  it("ends the connections that stopped answering pings and pings the rest", () => {
    const { connections, open } = setup();
    const live = open(Date.now() + 60_000);
    const dead = open(Date.now() + 60_000);
    dead.transport.answering = false;
    // One tick of a sweep whose tick is its period visits every connection.
    connections.pinger(1_000, 1_000).tick();
    expect(live.transport.pings).toBe(1);
    expect(live.transport.closed).toEqual([]);
    expect(dead.transport.closed).toEqual([1006]);
    expect(connections.size).toBe(1);
  });

  it("still limits the frame rate with the bucket made by the first frame", () => {
    const { open } = setup();
    const { transport } = open(Date.now() + 60_000);
    for (let i = 0; i < 11; i++) transport.events?.onFrame("not json", false);
    expect(transport.sent.filter((f) => f.includes('"rate_limited"'))).toHaveLength(1);
  });
});
