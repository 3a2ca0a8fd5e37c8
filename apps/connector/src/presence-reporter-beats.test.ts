import { ConnectionSetDigest, type PresenceReport, presenceReportSchema, subjects } from "@herald/protocol";
import { createHandlerGuard, createLogger, Registry } from "@herald/service-kit";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PresenceReporter } from "./presence-reporter.js";

const s = subjects("t");
const guard = createHandlerGuard(createLogger("test", "silent"), new Registry());
const decoder = new TextDecoder();

/** A NATS connection that records what is published and lets the test deliver sync requests. */
function fakeNats() {
  const published: PresenceReport[] = [];
  let onSync: ((err: Error | null, msg: Msg) => void) | undefined;
  const nc = {
    info: { max_payload: 64 * 1024 },
    isClosed: () => false,
    publish: (subject: string, data: Uint8Array | string) => {
      expect(subject).toBe(s.presenceReport("c1"));
      published.push(
        presenceReportSchema.parse(JSON.parse(typeof data === "string" ? data : decoder.decode(data))),
      );
    },
    subscribe: (subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) => {
      expect(subject).toBe(s.presenceSync);
      onSync = opts.callback;
      return { unsubscribe: () => {} };
    },
  } as unknown as NatsConnection;
  const sync = (body: unknown) =>
    onSync?.(null, { subject: s.presenceSync, data: new TextEncoder().encode(JSON.stringify(body)) } as Msg);
  const take = () => published.splice(0);
  return { nc, sync, take };
}

const conn = (i: number) => ({ connectionId: `k${i}`, userId: `u${i}`, deviceId: "d", since: i });

afterEach(() => {
  vi.useRealTimers();
});

describe("PresenceReporter beats", () => {
  it("beats with the digest of what it holds, and lists everything only when asked", () => {
    const { nc, sync, take } = fakeNats();
    const reporter = new PresenceReporter(nc, s, "c1", 3_000, guard);
    reporter.start();
    for (let i = 0; i < 5_000; i++) reporter.opened(conn(i));
    reporter.closed("k7");
    reporter.opened({ ...conn(8), since: 99 }); // the same id again, other details: the new one counts
    take();
    reporter.beat();
    const [beat, ...rest] = take();
    expect(rest).toEqual([]);
    const expected = new ConnectionSetDigest();
    for (let i = 0; i < 5_000; i++) if (i !== 7) expected.add(i === 8 ? { ...conn(8), since: 99 } : conn(i));
    expect(beat).toMatchObject({ type: "beat", count: 4_999, hash: expected.toString(), intervalMs: 3_000 });
    expect(JSON.stringify(beat).length).toBeLessThan(200);
    // A sync from this release's presence: a full heartbeat in parts, then beats again.
    sync({ replicaId: "r1", connectorId: "c1", beats: true });
    const parts = take();
    expect(parts.every((r) => r.type === "heartbeat")).toBe(true);
    expect(parts.flatMap((r) => (r.type === "heartbeat" ? r.connections : [])).length).toBe(4_999);
    expect(parts.map((r) => r.seq)).toEqual(parts.map((_, i) => (beat?.seq ?? 0) + 1 + i));
    reporter.beat();
    expect(take().map((r) => r.type)).toEqual(["beat"]);
    // A sync meant for another connector is not answered.
    sync({ replicaId: "r1", connectorId: "c2", beats: true });
    expect(take()).toEqual([]);
    reporter.stop();
  });

  it("sends full heartbeats instead of beats for a while after a sync from a presence of the previous release", () => {
    vi.useFakeTimers({ toFake: ["performance", "setInterval", "clearInterval"] });
    const { nc, sync, take } = fakeNats();
    const reporter = new PresenceReporter(nc, s, "c1", 3_000, guard);
    reporter.start();
    reporter.opened(conn(1));
    take();
    sync({ replicaId: "old", connectorId: "c2" }); // no `beats`: even addressed to another connector
    expect(take()).toEqual([]);
    vi.advanceTimersByTime(3_000);
    expect(take().map((r) => r.type)).toEqual(["heartbeat"]);
    vi.advanceTimersByTime(10 * 60_000 - 3_000);
    take();
    vi.advanceTimersByTime(3_000);
    expect(take().map((r) => r.type)).toEqual(["beat"]);
    reporter.stop();
  });

  it("ignores malformed sync requests", () => {
    const { nc, sync, take } = fakeNats();
    const reporter = new PresenceReporter(nc, s, "c1", 3_000, guard);
    reporter.start();
    take();
    sync({ nope: 1 });
    sync("not an object");
    expect(take()).toEqual([]);
    reporter.beat();
    expect(take().map((r) => r.type)).toEqual(["beat"]);
    reporter.stop();
  });

  it("reports a member that holds more (the connection itself) by its four fields alone", () => {
    const raw: Record<string, unknown>[] = [];
    const nc = {
      info: { max_payload: 64 * 1024 },
      isClosed: () => false,
      publish: (_subject: string, data: Uint8Array | string) =>
        raw.push(JSON.parse(typeof data === "string" ? data : decoder.decode(data))),
      subscribe: () => ({ unsubscribe: () => {} }),
    } as unknown as NatsConnection;
    class Member {
      readonly connectionId = "k1";
      readonly secret = "token";
      constructor(private readonly identity: { userId: string; deviceId: string }) {}
      get userId() {
        return this.identity.userId;
      }
      get deviceId() {
        return this.identity.deviceId;
      }
      get since() {
        return 42;
      }
    }
    const reporter = new PresenceReporter(nc, s, "c1", 3_000, guard);
    reporter.opened(new Member({ userId: "u1", deviceId: "d1" }));
    reporter.heartbeat();
    reporter.closed("k1");
    const fields = { connectionId: "k1", userId: "u1", deviceId: "d1", since: 42 };
    expect(raw.map((r) => r.type)).toEqual(["open", "heartbeat", "close"]);
    expect(raw[0]?.connection).toEqual(fields);
    expect(raw[1]?.connections).toEqual([fields]);
    expect(raw[2]?.connection).toEqual(fields);
    reporter.beat();
    expect(raw[3]).toMatchObject({ type: "beat", count: 0, hash: "0000000000000000" });
  });
});
