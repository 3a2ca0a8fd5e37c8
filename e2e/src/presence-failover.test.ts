import type { PresenceCountReply } from "@herald/protocol";
import {
  connectClient,
  type NatsServer,
  natsServiceEnv,
  type Service,
  type Stack,
  signToken,
  startNatsServer,
  startService,
  startStack,
  type TestClient,
  waitUntil,
} from "@herald/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { type Backend, connectBackend } from "./support/backend.js";
import { type PresenceWatch, watchPresence } from "./support/presence.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

let nats: NatsServer | undefined;
let stack: Stack | undefined;
let backend: Backend | undefined;
let presence: PresenceWatch | undefined;
let proxy: TcpProxy | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.terminate().catch(() => {})));
  presence?.stop();
  await backend?.close();
  await stack?.stop().catch(() => {});
  await proxy?.close();
  await nats?.dispose();
  presence = undefined;
  backend = undefined;
  stack = undefined;
  proxy = undefined;
  nats = undefined;
});

async function open(s: Stack, userId: string, deviceId: string, i: number): Promise<TestClient> {
  const token = await signToken({ sub: userId, did: deviceId }, s.jwtSecret);
  const client = await connectClient(s.wsUrl(token, i));
  clients.push(client);
  return client;
}

/** Whether a presence replica holds the emitter lease, from its `herald_presence_emitter` gauge. */
async function isEmitter(replica: Service): Promise<boolean> {
  const text = await (await fetch(`${replica.adminUrl}/metrics`)).text();
  return /^herald_presence_emitter(\{[^}]*\})? 1$/m.test(text);
}

/** Registry as answered, without the per-connector map's key order mattering. */
const normalized = (count: PresenceCountReply) => ({
  ...count,
  connectors: Object.fromEntries(Object.entries(count.connectors).sort(([a], [b]) => (a < b ? -1 : 1))),
});

describe("presence failover (real processes)", () => {
  it("kill -9 of a presence replica: queries keep being answered, events keep coming, a restart rebuilds the same view", async () => {
    nats = await startNatsServer();
    stack = await startStack({ nats, replicas: 3, counts: { presence: 2 } });
    backend = await connectBackend(nats);
    const p = watchPresence(backend.nc);
    presence = p;
    const s = stack;
    for (let u = 0; u < 12; u++) {
      for (let d = 0; d < 1 + (u % 3); d++) await open(s, `user${u}`, `dev${d}`, (u + d) % 3);
    }
    const users = Array.from({ length: 12 }, (_, u) => `user${u}`);
    await waitUntil(async () => (await p.count()).connections === 24, { message: "24 connections" });
    const before = await p.getMany(users);
    const countBefore = normalized(await p.count());

    // Keep asking while a replica dies. A request in flight to the replica at the moment it dies is lost (core
    // NATS, at most once): the caller retries once after a timeout, as a backend would.
    let asked = 0;
    let retried = 0;
    const failures: string[] = [];
    let asking = true;
    const ask = async () => {
      try {
        return await p.getMany(users, 1_000);
      } catch {
        retried++;
        return p.getMany(users, 2_000);
      }
    };
    const loop = (async () => {
      while (asking) {
        asked++;
        try {
          expect(await ask()).toEqual(before);
        } catch (error) {
          failures.push(String((error as Error).message ?? error));
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await waitUntil(() => asked > 20, { message: "queries flowing" });
    // The victim is the event emitter (lease holder), so the survivor must take over events too.
    const emitter = await waitUntil(
      async () => {
        for (const replica of s.presence) if (await isEmitter(replica)) return replica;
        return undefined;
      },
      { message: "the emitter replica" },
    );
    const victim = emitter;
    const survivor = s.presence.find((r) => r !== victim)!;
    await victim.kill();
    const killedAt = performance.now();
    const askedAtKill = asked;
    await waitUntil(() => asked > askedAtKill + 100, {
      timeoutMs: 20_000,
      message: "queries after the kill",
    });

    // Events keep coming: whichever replica held the emitter lease, the survivor emits now.
    await open(s, "late", "phone", 1);
    await p.waitEvents("late", ["online"], 10_000);
    const onlineAfter = (p.events.find((e) => e.userId === "late")!.receivedAt - killedAt) / 1000;

    const restartedAt = performance.now();
    await victim.restart();
    await victim.waitReady(15_000);
    const readyAfter = (performance.now() - restartedAt) / 1000;
    asking = false;
    await loop;
    console.log(
      `kill -9 presence: ${asked} queries during the failover, ${retried} retried once, ${failures.length} failed; ` +
        `'late' online event ` +
        `${onlineAfter.toFixed(2)} s after the kill; restarted replica ready in ${readyAfter.toFixed(2)} s`,
    );
    expect(failures).toEqual([]);
    expect(retried).toBeLessThanOrEqual(2);
    expect(readyAfter).toBeLessThan(10);

    // Same answers from both: many queries, spread by the queue group; then the restarted one alone.
    const after = { ...(await p.getMany(users)) };
    expect(after).toEqual(before);
    const countAfter = normalized(await p.count());
    expect(countAfter.connections).toBe(countBefore.connections + 1);
    for (let i = 0; i < 10; i++) expect(normalized(await p.count())).toEqual(countAfter);
    await survivor.stop();
    expect(await p.getMany(users)).toEqual(before);
    expect(normalized(await p.count())).toEqual(countAfter);
    expect(p.typesOf("late")).toEqual(["online"]);
    // No transition was announced twice across the failover.
    for (const user of users) expect(p.typesOf(user)).toEqual(["online"]);
  });

  it("a connector cut off from NATS longer than the timeout: its users go offline, come back, no phantoms", async () => {
    nats = await startNatsServer();
    const timing = {
      presence: { PRESENCE_CONNECTOR_TIMEOUT: "3s", PRESENCE_SYNC_WAIT: "1500ms" },
      connector: { PRESENCE_HEARTBEAT_INTERVAL: "1s" },
    };
    stack = await startStack({ nats, replicas: 2, envFor: timing });
    const s = stack;
    // The third connector reaches NATS through a proxy the test can cut.
    proxy = await startTcpProxy(nats.port);
    const cutConnector = await startService("connector", {
      NATS_URL: proxy.url,
      ...natsServiceEnv(nats, "connector"),
      HERALD_JWT_SECRET: s.jwtSecret,
      CONNECTOR_ID: "behind-proxy",
      ...timing.connector,
    });
    s.connectors.push(cutConnector);
    await cutConnector.waitReady();
    backend = await connectBackend(nats);
    const p = watchPresence(backend.nc);
    presence = p;

    await open(s, "alice", "phone", 2); // only behind the proxy
    await open(s, "bob", "phone", 2); // behind the proxy and elsewhere
    await open(s, "bob", "laptop", 0);
    const carol = await open(s, "carol", "phone", 2); // leaves during the cut
    await open(s, "dave", "phone", 1); // elsewhere only
    await waitUntil(async () => (await p.count()).connections === 5, { message: "5 connections" });

    const cutAt = performance.now();
    proxy.cut();
    await p.waitEvents("alice", ["online", "offline"], 8_000);
    const offlineAfter =
      (p.events.find((e) => e.userId === "alice" && e.type === "offline")!.receivedAt - cutAt) / 1000;
    expect((await p.get("bob")).connections.map((c) => c.deviceId)).toEqual(["laptop"]);
    await carol.close();
    // Longer than the timeout in all: the connector stays cut a while after being declared dead.
    await waitUntil(() => performance.now() - cutAt > 5_000, { timeoutMs: 6_000, intervalMs: 100 });
    const restoredAt = performance.now();
    proxy.restore();
    await p.waitEvents("alice", ["online", "offline", "online"], 10_000);
    const onlineAfter =
      (p.events.filter((e) => e.userId === "alice" && e.type === "online")[1]!.receivedAt - restoredAt) /
      1000;
    await waitUntil(async () => (await p.count()).connections === 4, { message: "4 connections" });
    console.log(
      `NATS cut: 'alice' offline ${offlineAfter.toFixed(2)} s after the cut, online again ${onlineAfter.toFixed(2)} s after the restore`,
    );

    // Converged, and it stays so over a few more heartbeats: no phantom carol, every connector counted.
    await waitUntil(() => performance.now() - restoredAt > 3_000, { timeoutMs: 4_000, intervalMs: 100 });
    const count = await p.count();
    expect(count.users).toBe(3);
    expect(count.connections).toBe(4);
    expect(count.connectors["behind-proxy"]).toEqual({ connections: 2 });
    expect(Object.keys(count.connectors)).toHaveLength(3);
    const answer = await p.getMany(["alice", "bob", "carol", "dave"]);
    expect(answer.users.map((u) => u.connections.map((c) => c.deviceId).sort())).toEqual([
      ["phone"],
      ["laptop", "phone"],
      [],
      ["phone"],
    ]);
    expect(p.typesOf("alice")).toEqual(["online", "offline", "online"]);
    expect(p.typesOf("bob")).toEqual(["online"]);
    expect(p.typesOf("carol")).toEqual(["online", "offline"]);
    expect(p.typesOf("dave")).toEqual(["online"]);
  });
});
