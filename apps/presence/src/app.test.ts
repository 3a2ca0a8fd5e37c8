import {
  isApiError,
  type PresenceBatchReply,
  type PresenceCountReply,
  type PresenceReply,
  subjects,
  userToken,
} from "@herald/protocol";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EventLog, FakeConnector } from "./test/fake-connector.js";
import { type NatsServer, startNatsServer, waitFor } from "./test/nats-server.js";
import { type Replica, startReplica } from "./test/replica.js";

let server: NatsServer;
let nc: NatsConnection;
let prefixCounter = 0;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Each test gets its own subject prefix, so replicas and buckets of other tests cannot interfere. */
function world() {
  const prefix = `t${process.pid}x${prefixCounter++}`;
  const s = subjects(prefix);
  const events = new EventLog(nc, s);
  cleanups.push(() => events.stop());
  const connector = (id: string, bootId?: string) => {
    const c = new FakeConnector(nc, s, id, bootId);
    cleanups.push(() => c.stop());
    return c;
  };
  const replica = async (env: Record<string, string> = {}) => {
    const r = await startReplica(server.url, { HERALD_PREFIX: prefix, ...env });
    cleanups.push(() => r.stop().catch(() => {}));
    return r;
  };
  const request = async <T>(subject: string, body: unknown): Promise<T> => {
    const payload = typeof body === "string" ? body : JSON.stringify(body);
    const reply = await nc.request(subject, payload, { timeout: 2000 });
    return reply.json<T>();
  };
  const get = (userId: string) => request<PresenceReply>(s.presenceGet, { userId });
  const count = () => request<PresenceCountReply>(s.presenceCount, "");
  return { s, events, connector, replica, request, get, count };
}

const emitterOf = (replicas: Replica[]) =>
  waitFor(() => replicas.find((r) => r.app.isEmitter()), "an emitter");

describe("presence service", () => {
  it("tracks users across 3 connectors and emits online/offline once per transition", async () => {
    const w = world();
    const r = await w.replica();
    await emitterOf([r]);
    const [c1, c2, c3] = [w.connector("c1"), w.connector("c2"), w.connector("c3")];
    const a1 = c1.open("alice", "phone");
    const a2 = c2.open("alice", "laptop");
    c3.open("alice", "tablet");
    c2.open("bob");
    c3.open("carol");
    await waitFor(async () => (await w.count()).connections === 5, "5 connections");
    expect(await w.count()).toEqual({
      users: 3,
      connections: 5,
      connectors: { c1: { connections: 1 }, c2: { connections: 2 }, c3: { connections: 2 } },
    });
    const alice = await w.get("alice");
    expect(alice.online).toBe(true);
    expect(alice.connections.map((c) => `${c.connectorId}:${c.deviceId}`).sort()).toEqual([
      "c1:phone",
      "c2:laptop",
      "c3:tablet",
    ]);
    c1.close(a1.connectionId);
    c2.close(a2.connectionId);
    c3.closeUser("carol");
    await waitFor(() => w.events.of("carol").length === 2, "carol offline");
    expect((await w.get("alice")).connections.map((c) => c.connectorId)).toEqual(["c3"]);
    c3.closeUser("alice");
    await waitFor(() => w.events.of("alice").length === 2, "alice offline");
    expect(w.events.of("alice")).toEqual(["online", "offline"]);
    expect(w.events.of("bob")).toEqual(["online"]);
    expect(w.events.of("carol")).toEqual(["online", "offline"]);
    expect(await w.get("alice")).toEqual({ userId: "alice", online: false, connections: [] });
    const [event] = w.events.events;
    expect(event).toEqual({ type: "online", userId: "alice", at: expect.any(Number) });
  });

  it("publishes events of encoded user ids on their token subject", async () => {
    const w = world();
    const r = await w.replica();
    await emitterOf([r]);
    const seen: string[] = [];
    const sub = nc.subscribe(w.s.presenceEvent(userToken("zoë@example")), {
      callback: (_e, m) => {
        seen.push(m.json<{ userId: string }>().userId);
      },
    });
    cleanups.push(() => sub.unsubscribe());
    expect(userToken("zoë@example").startsWith("=")).toBe(true);
    w.connector("c1").open("zoë@example");
    await waitFor(() => seen.length === 1, "event on the encoded subject");
    expect(seen).toEqual(["zoë@example"]);
  });

  it("declares a silent connector dead within the timeout", async () => {
    const w = world();
    const r = await w.replica({ PRESENCE_CONNECTOR_TIMEOUT: "1s" });
    await emitterOf([r]);
    const [c1, c2] = [w.connector("c1"), w.connector("c2")];
    c1.open("alice");
    c1.open("dave");
    c2.open("alice");
    await waitFor(() => w.events.events.length === 2, "two online events");
    const silentSince = performance.now();
    // c2 keeps heartbeating, c1 says nothing more.
    const beat = setInterval(() => c2.heartbeat(), 200);
    cleanups.push(() => clearInterval(beat));
    await waitFor(() => w.events.of("dave").includes("offline"), "dave offline", 5000);
    const elapsed = performance.now() - silentSince;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(2000);
    expect(w.events.of("alice")).toEqual(["online"]);
    const count = await w.count();
    expect(count).toEqual({ users: 1, connections: 1, connectors: { c2: { connections: 1 } } });
    // A late heartbeat brings it back (a network cut healed).
    c1.heartbeat();
    await waitFor(() => w.events.of("dave").length === 3, "dave online again");
    expect(w.events.of("dave")).toEqual(["online", "offline", "online"]);
  });

  it("converges on a heartbeat: phantoms removed, missed opens added, shutdown forgets at once", async () => {
    const w = world();
    const r = await w.replica();
    await emitterOf([r]);
    const c1 = w.connector("c1");
    c1.open("alice");
    const ghost = c1.open("ghost");
    await waitFor(() => w.events.events.length === 2, "two online");
    // As if the close of "ghost" and the open of "erin" were lost during a NATS reconnect.
    c1.connections.delete(ghost.connectionId);
    c1.connections.set("late", { connectionId: "late", userId: "erin", deviceId: "d", since: 1 });
    c1.heartbeat();
    await waitFor(() => w.events.of("erin").length === 1 && w.events.of("ghost").length === 2, "converged");
    expect(w.events.of("alice")).toEqual(["online"]);
    c1.shutdown();
    await waitFor(() => w.events.of("alice").length === 2 && w.events.of("erin").length === 2, "shutdown");
    expect(await w.count()).toEqual({ users: 0, connections: 0, connectors: {} });
  });

  it("applies a heartbeat sent in parts only when complete", async () => {
    const w = world();
    const r = await w.replica();
    const c1 = w.connector("c1", undefined);
    for (let i = 0; i < 25; i++)
      c1.connections.set(`k${i}`, { connectionId: `k${i}`, userId: `u${i % 10}`, deviceId: "d", since: i });
    c1.heartbeat(10);
    await waitFor(async () => (await w.count()).connections === 25, "25 connections from 3 parts");
    // A snapshot missing its middle part is dropped, the registry keeps the last complete one.
    c1.report({ type: "heartbeat", connections: [], intervalMs: 3000, part: 0, parts: 3 });
    c1.report({ type: "heartbeat", connections: [], intervalMs: 3000, part: 2, parts: 3 });
    c1.open("zed");
    await waitFor(async () => (await w.count()).connections === 26, "open after broken snapshot");
    expect(r.app.registry.count().users).toBe(11);
  });

  it("asks a connector for a heartbeat on a seq gap, and drops the old set on a new boot id", async () => {
    const w = world();
    const r = await w.replica();
    await emitterOf([r]);
    const c1 = w.connector("c1", "boot-a");
    c1.open("alice");
    await waitFor(() => w.events.of("alice").length === 1, "alice online");
    const before = c1.syncRequests;
    c1.loseOne();
    c1.open("bob");
    await waitFor(() => c1.syncRequests > before, "targeted sync request");
    c1.bootId = "boot-b";
    c1.connections.clear();
    c1.open("carol");
    await waitFor(
      () => w.events.of("alice").length === 2 && w.events.of("bob").length === 2,
      "old boot gone",
    );
    expect((await w.count()).connections).toBe(1);
    expect(w.events.of("carol")).toEqual(["online"]);
  });

  it("repairs a lost open and a lost close from a beat: only that connector is asked for a full heartbeat", async () => {
    const w = world();
    const r = await w.replica();
    await emitterOf([r]);
    // No seq numbers: only the beat's digest can tell that reports were lost.
    const [c1, c2] = [w.connector("c1", undefined), w.connector("c2", undefined)];
    const ghost = c1.open("ghost");
    c2.open("alice");
    await waitFor(() => w.events.events.length === 2, "two online");
    c1.beat();
    c2.beat();
    await waitFor(() => r.app.registry.hasConnector("c2"), "beats applied");
    const [before1, before2] = [c1.syncRequests, c2.syncRequests];
    c1.connections.delete(ghost.connectionId); // its close is lost
    c1.connections.set("late", { connectionId: "late", userId: "erin", deviceId: "d", since: 1 }); // its open too
    c1.beat();
    c2.beat();
    await waitFor(() => w.events.of("erin").length === 1 && w.events.of("ghost").length === 2, "repaired");
    expect(c1.syncRequests).toBe(before1 + 1);
    expect(c1.beatSyncRequests).toBe(c1.syncRequests);
    expect(c2.syncRequests).toBe(before2);
    expect(await w.count()).toEqual({
      users: 2,
      connections: 2,
      connectors: { c1: { connections: 1 }, c2: { connections: 1 } },
    });
    // Matching beats from then on ask for nothing more.
    c1.beat();
    c1.beat();
    c1.open("zoe");
    await waitFor(() => w.events.of("zoe").length === 1, "zoe online");
    expect(c1.syncRequests).toBe(before1 + 1);
  });

  it("keeps a connector that only beats alive; a connector of the previous release (full heartbeats) as well", async () => {
    const w = world();
    const r = await w.replica({ PRESENCE_CONNECTOR_TIMEOUT: "1s" });
    await emitterOf([r]);
    const [fresh, old] = [w.connector("fresh"), w.connector("old")];
    fresh.open("alice");
    old.connections.set("k", { connectionId: "k", userId: "bob", deviceId: "d", since: 1 }); // heartbeat only
    const beating = setInterval(() => {
      fresh.beat();
      old.heartbeat();
    }, 200);
    cleanups.push(() => clearInterval(beating));
    await waitFor(() => w.events.of("bob").length === 1 && w.events.of("alice").length === 1, "both online");
    const asked = fresh.syncRequests;
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // twice the timeout, on purpose
    expect(await w.count()).toEqual({
      users: 2,
      connections: 2,
      connectors: { fresh: { connections: 1 }, old: { connections: 1 } },
    });
    expect(fresh.syncRequests).toBe(asked);
    expect(w.events.events.length).toBe(2);
  });

  it("answers malformed queries with an error reply", async () => {
    const w = world();
    await w.replica();
    const bad: [unknown, string][] = [
      ["not json", "invalid_json"],
      [{}, "invalid_request"],
      [{ userId: 5 }, "invalid_user_id"],
      [{ userId: "a.b" }, "invalid_user_id"],
      [{ userId: "" }, "invalid_user_id"],
      [{ userIds: [] }, "invalid_request"],
      [{ userIds: ["ok", "bad*"] }, "invalid_user_id"],
      [{ userIds: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, "invalid_request"],
      [{ userId: "a", userIds: ["b"] }, "invalid_request"],
      [[], "invalid_request"],
    ];
    for (const [body, code] of bad) {
      const reply = await w.request<unknown>(w.s.presenceGet, body);
      expect(isApiError(reply), JSON.stringify(body)).toBe(true);
      if (isApiError(reply)) expect(reply.error.code).toBe(code);
    }
    const batch = await w.request<PresenceBatchReply>(w.s.presenceGet, { userIds: ["x", "y"] });
    expect(batch.users.map((u) => u.userId)).toEqual(["x", "y"]);
  });

  it("two replicas answer the same and emit each event once; the other takes over when the emitter dies", async () => {
    const w = world();
    const [ra, rb] = [await w.replica(), await w.replica()];
    const first = await emitterOf([ra, rb]);
    const c1 = w.connector("c1");
    const c2 = w.connector("c2");
    for (let i = 0; i < 20; i++) (i % 2 ? c1 : c2).open(`u${i % 7}`);
    await waitFor(
      () => ra.app.registry.connectionTotal === 20 && rb.app.registry.connectionTotal === 20,
      "both",
    );
    for (let i = 0; i < 7; i++) {
      expect(JSON.stringify(ra.app.registry.get(`u${i}`))).toBe(JSON.stringify(rb.app.registry.get(`u${i}`)));
    }
    await waitFor(() => w.events.events.length === 7, "7 online events");
    // The emitter dies without a word; transitions during the gap are published by the successor.
    await first.crash();
    const survivor = first === ra ? rb : ra;
    c1.closeUser("u1");
    c2.closeUser("u1");
    c1.open("late");
    await waitFor(() => survivor.app.isEmitter(), "take-over", 5000);
    await waitFor(() => w.events.of("late").length === 1 && w.events.of("u1").length === 2, "gap events");
    c1.open("after");
    await waitFor(() => w.events.of("after").length === 1, "after take-over");
    // Give any duplicate a chance to show up before counting.
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const byUser = new Map<string, string[]>();
    for (const e of w.events.events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e.type]);
    for (const [user, types] of byUser) {
      const expected = user === "u1" ? ["online", "offline"] : ["online"];
      expect(types, user).toEqual(expected);
    }
    expect(byUser.size).toBe(9);
  });

  it("a draining emitter hands the lease over at once instead of after the TTL", async () => {
    const w = world();
    const env = { PRESENCE_LEASE_TTL: "5s", PRESENCE_LEASE_RENEW: "200ms" };
    const [ra, rb] = [await w.replica(env), await w.replica(env)];
    const first = await emitterOf([ra, rb]);
    const second = first === ra ? rb : ra;
    const c1 = w.connector("c1");
    c1.open("alice");
    await waitFor(() => w.events.of("alice").length === 1, "alice online");
    const stopped = performance.now();
    await first.stop();
    c1.open("bob");
    await waitFor(() => second.app.isEmitter(), "hand-over", 5000);
    expect(performance.now() - stopped).toBeLessThan(2000);
    await waitFor(() => w.events.of("bob").length === 1, "bob online from the new emitter");
    expect(w.events.of("alice")).toEqual(["online"]);
  });

  it("a restarted replica rebuilds its view through sync, without any connector restart", async () => {
    const w = world();
    const ra = await w.replica();
    const c1 = w.connector("c1");
    const c2 = w.connector("c2");
    for (let i = 0; i < 50; i++) (i % 3 ? c1 : c2).open(`user${i % 17}`, `dev${i}`);
    await waitFor(() => ra.app.registry.connectionTotal === 50, "50 connections");
    await ra.crash();
    c1.closeUser("user3"); // changed while no replica ran
    const syncsBefore = c1.syncRequests;
    const started = performance.now();
    // No periodic heartbeats in this test: only the sync request can fill the new replica.
    const rb = await w.replica({ PRESENCE_SYNC_WAIT: "500ms" });
    await waitFor(
      () => rb.app.notReadyReason() === undefined,
      () => `ready: ${rb.app.notReadyReason()}`,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(c1.syncRequests).toBeGreaterThan(syncsBefore);
    const expected = [...c1.connections.values(), ...c2.connections.values()].length;
    expect(rb.app.registry.connectionTotal).toBe(expected);
    const reply = await w.get("user4");
    expect(reply.connections.map((c) => c.deviceId).sort()).toEqual(
      [...c1.connections.values(), ...c2.connections.values()]
        .filter((c) => c.userId === "user4")
        .map((c) => c.deviceId)
        .sort(),
    );
  });

  it("a flood of 10,000 opens in one second leaves the registry exact", async () => {
    const w = world();
    const r = await w.replica();
    await emitterOf([r]);
    const connectors = [w.connector("f1"), w.connector("f2"), w.connector("f3")];
    const started = performance.now();
    // One synchronous burst: the 10,000 reports leave within well under a second.
    for (let i = 0; i < 10_000; i++) connectors[i % 3]?.open(`flood${i % 4000}`, `d${i}`);
    await nc.flush();
    expect(performance.now() - started).toBeLessThan(1000);
    for (let i = 0; i < 3000; i += 3) connectors[0]?.closeUser(`flood${i}`);
    const expectedConnections = connectors.reduce((n, c) => n + c.connections.size, 0);
    const users = new Set(connectors.flatMap((c) => [...c.connections.values()].map((x) => x.userId)));
    await waitFor(async () => (await w.count()).connections === expectedConnections, "flood applied");
    const count = await w.count();
    expect(count.users).toBe(users.size);
    expect(count.connectors).toEqual({
      f1: { connections: connectors[0]?.connections.size },
      f2: { connections: connectors[1]?.connections.size },
      f3: { connections: connectors[2]?.connections.size },
    });
    await waitFor(() => w.events.events.length === 4000 + (4000 - users.size), "events", 5000);
    expect(w.events.events.filter((e) => e.type === "online").length).toBe(4000);
    expect(w.events.events.filter((e) => e.type === "offline").length).toBe(4000 - users.size);
  });
});
