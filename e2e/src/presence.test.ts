import { isApiError, type PresenceReport, userToken } from "@herald/protocol";
import {
  connectClient,
  type NatsServer,
  type Stack,
  signToken,
  startNatsServer,
  startStack,
  type TestClient,
  waitUntil,
} from "@herald/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, connectBackend } from "./support/backend.js";
import { type PresenceWatch, watchPresence } from "./support/presence.js";

// Production timings (8 s connector timeout, 3 s heartbeats): the kill -9 test checks the contract's 10 s.
let nats: NatsServer;
let stack: Stack;
let backend: Backend;
let presence: PresenceWatch;
const clients: TestClient[] = [];
const simulated: Backend[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  stack = await startStack({ nats, replicas: 3, counts: { presence: 2 } });
  backend = await connectBackend(nats);
  presence = watchPresence(backend.nc);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.terminate().catch(() => {})));
  await Promise.all(simulated.map((c) => c.close()));
  presence?.stop();
  await backend?.close();
  await stack?.stop().catch(() => {});
  await nats?.dispose();
});

/** A raw WebSocket client of `userId` on connector `i`, open and welcomed. */
async function open(userId: string, deviceId: string, i: number): Promise<TestClient> {
  const token = await signToken({ sub: userId, did: deviceId }, stack.jwtSecret);
  const client = await connectClient(stack.wsUrl(token, i));
  clients.push(client);
  return client;
}

describe("presence across 3 connectors (real processes, 2 presence replicas)", () => {
  it("emits online once and offline once per user, and answers queries for users on several connectors", async () => {
    const tabs = await Promise.all([0, 1, 2].map((i) => open("alice", `tab${i}`, i)));
    const bob = await open("bob", "phone", 1);
    const zoe = await open("zoë@example", "laptop", 2);
    const alice = await presence.waitConnections("alice", 3);
    expect(alice.online).toBe(true);
    expect(alice.connections.map((c) => c.deviceId).sort()).toEqual(["tab0", "tab1", "tab2"]);
    // Each tab on its own connector, each connection named by the id its welcome frame carried.
    const connectorIds = new Set(alice.connections.map((c) => c.connectorId));
    expect(connectorIds.size).toBe(3);
    const welcomed = tabs.map((t) => (t.frames[0] as { connectionId?: string }).connectionId).sort();
    expect(alice.connections.map((c) => c.connectionId).sort()).toEqual(welcomed);
    await presence.waitConnections("zoë@example", 1);
    await presence.waitEvents("zoë@example", ["online"]);
    expect(presence.events.find((e) => e.userId === "zoë@example")?.subject).toBe(
      presence.s.presenceEvent(userToken("zoë@example")),
    );

    const batch = await presence.getMany(["bob", "alice", "nobody"]);
    expect(batch.users.map((u) => [u.userId, u.online, u.connections.length])).toEqual([
      ["bob", true, 1],
      ["alice", true, 3],
      ["nobody", false, 0],
    ]);
    const count = await presence.count();
    expect(count.users).toBe(3);
    expect(count.connections).toBe(5);
    expect(Object.values(count.connectors).map((c) => c.connections)).toHaveLength(3);

    // Three tabs going to two (then one): still online, no offline event.
    await tabs[0]?.close();
    await presence.waitConnections("alice", 2);
    await tabs[2]?.close();
    await presence.waitConnections("alice", 1);
    expect(presence.typesOf("alice")).toEqual(["online"]);
    await tabs[1]?.close();
    await presence.waitEvents("alice", ["online", "offline"]);
    expect((await presence.get("alice")).online).toBe(false);
    await bob.close();
    await zoe.close();
    await presence.waitEvents("bob", ["online", "offline"]);
    await presence.waitEvents("zoë@example", ["online", "offline"]);
    // Settled: exactly one event per transition, whichever replica holds the emitter lease.
    for (const user of ["alice", "bob", "zoë@example"]) {
      expect(presence.typesOf(user)).toEqual(["online", "offline"]);
    }
    expect((await presence.count()).connections).toBe(0);
  });

  it("answers malformed queries with an error reply", async () => {
    const cases: [unknown, string][] = [
      ["{not json", "invalid_json"],
      [{}, "invalid_request"],
      [{ userIds: [] }, "invalid_request"],
      [{ userIds: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, "invalid_request"],
      [{ userId: 42 }, "invalid_user_id"],
      [{ userId: "a.b" }, "invalid_user_id"],
      [{ userIds: ["ok", "bad*"] }, "invalid_user_id"],
      [{ userId: "alice", extra: true }, "invalid_request"],
    ];
    for (const [body, code] of cases) {
      const reply = await presence.request<unknown>(presence.s.presenceGet, body);
      expect(isApiError(reply), JSON.stringify(body).slice(0, 80)).toBe(true);
      expect((reply as { error: { code: string } }).error.code).toBe(code);
    }
    // Still serving afterwards.
    expect(await presence.get("alice")).toEqual({ userId: "alice", online: false, connections: [] });
  });

  it("stays exact through a flood of 10,000 open reports in one second, plus closes", async () => {
    const encoder = new TextEncoder();
    // Reports are connectors' to send: these simulated ones connect as the connector identity.
    const reporter = await connectBackend(nats, { identity: "connector" });
    simulated.push(reporter);
    const reporters = ["flood-a", "flood-b", "flood-c"].map((connectorId) => {
      let seq = 0;
      const held = new Map<
        string,
        { connectionId: string; userId: string; deviceId: string; since: number }
      >();
      const publish = (body: Record<string, unknown>) => {
        const report = { ...body, connectorId, bootId: `${connectorId}-boot`, seq: seq++ } as PresenceReport;
        reporter.nc.publish(presence.s.presenceReport(connectorId), encoder.encode(JSON.stringify(report)));
      };
      return { connectorId, held, publish };
    });
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) {
      const reporter = reporters[i % 3]!;
      const connection = {
        connectionId: `${reporter.connectorId}-${i}`,
        userId: `flood${i % 4000}`,
        deviceId: `d${i}`,
        since: Date.now(),
      };
      reporter.held.set(connection.connectionId, connection);
      reporter.publish({ type: "open", connection });
    }
    await reporter.nc.flush();
    // Printed, not asserted: how long publishing took depends on the machine's load.
    const elapsed = performance.now() - started;
    // Close every connection of a quarter of the users.
    for (const reporter of reporters) {
      for (const connection of [...reporter.held.values()]) {
        if (Number(connection.userId.slice(5)) % 4 !== 0) continue;
        reporter.held.delete(connection.connectionId);
        reporter.publish({ type: "close", connection });
      }
    }
    const connections = reporters.reduce((n, r) => n + r.held.size, 0);
    // Both replicas hold the same exact registry: several answers in a row (whichever replica answers) agree.
    const exact = async () => {
      const count = await presence.count();
      return (
        count.users === 3000 &&
        count.connections === connections &&
        reporters.every((r) => count.connectors[r.connectorId]?.connections === r.held.size)
      );
    };
    await waitUntil(
      async () => {
        for (let i = 0; i < 8; i++) if (!(await exact())) return false;
        return true;
      },
      { timeoutMs: 10_000, message: "the flood applied on both replicas" },
    );
    const count = await presence.count();
    expect(count.users).toBe(3000);
    expect(count.connections).toBe(connections);
    const sample = await presence.getMany(["flood1", "flood4", "flood3999"]);
    expect(sample.users.map((u) => u.connections.length)).toEqual([3, 0, 2]);
    await waitUntil(() => presence.events.filter((e) => e.userId.startsWith("flood")).length === 5000, {
      timeoutMs: 5_000,
      message: () =>
        `4000 online + 1000 offline flood events; got ${presence.events.filter((e) => e.userId.startsWith("flood")).length}`,
    });
    console.log(`flood: 10,000 open reports published in ${elapsed.toFixed(0)} ms; registry exact`);
    for (const r of reporters) r.publish({ type: "shutdown" });
    await waitUntil(async () => (await presence.count()).connections === 0, { message: "flood forgotten" });
  });

  it("kill -9 of a connector: its users go offline (or stay online elsewhere) within 10 s", async () => {
    await open("solo", "phone", 2);
    await open("multi", "phone", 2);
    await open("multi", "laptop", 0);
    await presence.waitConnections("multi", 2);
    await presence.waitConnections("solo", 1);
    const killedAt = performance.now();
    await stack.connectors[2]?.kill();
    await presence.waitEvents("solo", ["online", "offline"], 12_000);
    const offlineAt = presence.events.find((e) => e.userId === "solo" && e.type === "offline")!.receivedAt;
    const multi = await presence.waitConnections("multi", 1, 5_000);
    const seconds = (offlineAt - killedAt) / 1000;
    console.log(`kill -9 connector: 'solo' offline after ${seconds.toFixed(2)} s`);
    expect(seconds).toBeLessThan(10);
    expect(multi.connections.map((c) => c.deviceId)).toEqual(["laptop"]);
    expect(presence.typesOf("multi")).toEqual(["online"]);
    // Each replica expires the dead connector on its own clock (checked every 250 ms): poll until both have.
    const count = await waitUntil(
      async () => {
        const answer = await presence.count();
        return Object.keys(answer.connectors).length === 2 ? answer : undefined;
      },
      { timeoutMs: 3_000 },
    );
    expect(Object.keys(count.connectors)).toHaveLength(2);
    expect(count.connections).toBe(1);
  });
});
