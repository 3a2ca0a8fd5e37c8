import { HeraldClient } from "@herald/client";
import type { DisconnectCommand } from "@herald/protocol";
import {
  type CloseInfo,
  connectClient,
  type NatsServer,
  type Service,
  type Stack,
  signToken,
  startNatsServer,
  startService,
  startStack,
  type TestClient,
  waitUntil,
  withTimeout,
} from "@herald/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Backend, connectBackend } from "./support/backend.js";
import { type PresenceWatch, watchPresence } from "./support/presence.js";

type Disconnected = { code: number; reason: string; willReconnect: boolean };

let nats: NatsServer;
let stack: Stack;
let backend: Backend;
let presence: PresenceWatch;
const clients: TestClient[] = [];
const sdkClients: HeraldClient[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  stack = await startStack({
    nats,
    replicas: 3,
    envFor: { presence: { PRESENCE_MAX_CONNECTIONS_PER_USER: "2" } },
  });
  backend = await connectBackend(nats, { identity: "operator" });
  presence = watchPresence(backend.nc);
});
afterAll(async () => {
  await Promise.all(sdkClients.map((c) => c.close().catch(() => {})));
  await Promise.all(clients.map((c) => c.terminate().catch(() => {})));
  presence?.stop();
  await backend?.close();
  await stack?.stop().catch(() => {});
  await nats?.dispose();
});

async function open(userId: string, deviceId: string, i: number): Promise<TestClient> {
  const token = await signToken({ sub: userId, did: deviceId }, stack.jwtSecret);
  const client = await connectClient(stack.wsUrl(token, i));
  clients.push(client);
  return client;
}

/** An SDK client on connector `i` that records its `disconnected` events. */
async function sdk(userId: string, i: number) {
  const disconnected: Disconnected[] = [];
  const client = new HeraldClient({
    url: stack.wsUrl(undefined, i),
    token: () => signToken({ sub: userId, did: "sdk" }, stack.jwtSecret),
    WebSocket: WebSocket as never,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  sdkClients.push(client);
  client.on("disconnected", (event) => void disconnected.push(event));
  client.on("error", () => {});
  const welcome = await client.connect();
  return { client, disconnected, welcome };
}

async function command(body: DisconnectCommand): Promise<void> {
  backend.nc.publish(presence.s.controlDisconnect, JSON.stringify(body));
  await backend.nc.flush();
}

/** Resolves with the close, or fails after `timeoutMs`. */
const closedWithin = (client: TestClient, timeoutMs = 5_000) =>
  waitUntil(() => client.closeInfo(), { timeoutMs, message: "the socket to close" });

/**
 * True when `client` is still open once every connector has handled the commands sent so far: a command
 * matching nothing, as a request, answered by each connector after the earlier ones (one subscription each).
 */
async function stillOpen(client: TestClient): Promise<boolean> {
  const replies = await backend.nc.requestMany(
    presence.s.controlDisconnect,
    JSON.stringify({ connectionId: "no-such-connection" }),
    { strategy: "count", maxMessages: stack.connectors.length, maxWait: 5_000 },
  );
  let answered = 0;
  for await (const reply of replies) {
    expect(reply.json()).toEqual({ closed: 0 });
    answered++;
  }
  expect(answered).toBe(stack.connectors.length);
  // A ping round trip on the socket itself: a close frame sent before the reply arrives before the pong.
  if (client.closeInfo() === undefined) {
    const pong = new Promise<unknown>((resolve) => {
      client.ws.once("pong", resolve);
      void client.closed.then(resolve);
    });
    client.ws.ping();
    await withTimeout(pong, 5_000, "pong");
  }
  return client.closeInfo() === undefined;
}

describe("server-side control over NATS (<p>.control.disconnect)", () => {
  it("disconnects all of a user's devices across connectors with the code and reason", async () => {
    const phone = await open("alice", "phone", 0);
    const laptop = await open("alice", "laptop", 1);
    const bob = await open("bob", "phone", 0);
    await presence.waitConnections("alice", 2);
    await command({ userId: "alice", code: 4011, reason: "kicked by an admin" });
    const closes: CloseInfo[] = await Promise.all([closedWithin(phone), closedWithin(laptop)]);
    expect(closes).toEqual([
      { code: 4011, reason: "kicked by an admin" },
      { code: 4011, reason: "kicked by an admin" },
    ]);
    await presence.waitEvents("alice", ["online", "offline"]);
    expect(await stillOpen(bob)).toBe(true);
  });

  it("disconnects one device and leaves the others", async () => {
    const phone = await open("carol", "phone", 2);
    const laptop = await open("carol", "laptop", 0);
    await presence.waitConnections("carol", 2);
    await command({ userId: "carol", deviceId: "phone", code: 4011, reason: "signed out on this device" });
    expect(await closedWithin(phone)).toEqual({ code: 4011, reason: "signed out on this device" });
    const carol = await presence.waitConnections("carol", 1);
    expect(carol.connections.map((c) => c.deviceId)).toEqual(["laptop"]);
    expect(await stillOpen(laptop)).toBe(true);
  });

  it("SDK: 4010 (banned) stops it for good; 4011 (kicked) reconnects", async () => {
    const banned = await sdk("mallory", 1);
    const kicked = await sdk("kim", 2);
    await presence.waitConnections("mallory", 1);
    await presence.waitConnections("kim", 1);
    await command({ userId: "mallory", code: 4010, reason: "banned for spam" });
    await command({ userId: "kim", code: 4011, reason: "session reset" });

    await waitUntil(() => banned.disconnected.length > 0, { message: "mallory's disconnected event" });
    expect(banned.disconnected).toEqual([{ code: 4010, reason: "banned for spam", willReconnect: false }]);
    expect(banned.client.state).toBe("closed");

    await waitUntil(() => kicked.disconnected.length > 0, { message: "kim's disconnected event" });
    expect(kicked.disconnected[0]).toMatchObject({
      code: 4011,
      reason: "session reset",
      willReconnect: true,
    });
    const back = await waitUntil(
      async () => {
        const reply = await presence.get("kim");
        const id = reply.connections[0]?.connectionId;
        return id !== undefined && id !== kicked.welcome.connectionId ? reply : undefined;
      },
      { message: "kim connected again" },
    );
    expect(kicked.client.state).toBe("connected");
    expect(back.connections).toHaveLength(1);
    // Kim reconnected within the same time: mallory would have too, had she tried.
    expect((await presence.get("mallory")).online).toBe(false);
    expect(banned.disconnected).toHaveLength(1);
    expect(presence.typesOf("mallory")).toEqual(["online", "offline"]);
  });

  it("connection limit 2, close-oldest: a third connection closes the oldest with 4012 (SDK stays closed)", async () => {
    const oldest = await sdk("dora", 0);
    await presence.waitConnections("dora", 1);
    const second = await open("dora", "tablet", 1);
    await presence.waitConnections("dora", 2);
    const third = await open("dora", "laptop", 2);
    await waitUntil(() => oldest.disconnected.length > 0, { message: "the oldest closed" });
    expect(oldest.disconnected).toEqual([
      {
        code: 4012,
        reason: "connection limit: at most 2 per user; the oldest is closed",
        willReconnect: false,
      },
    ]);
    const dora = await presence.waitConnections("dora", 2);
    expect(dora.connections.map((c) => c.deviceId).sort()).toEqual(["laptop", "tablet"]);
    expect(await stillOpen(second)).toBe(true);
    expect(await stillOpen(third)).toBe(true);
    expect(presence.typesOf("dora")).toEqual(["online"]);
  });

  it("connection limit 2, refuse-newest: the connection over the limit is closed with 4012", async () => {
    // A presence with the other policy in place of the stack's.
    const [old] = stack.presence;
    await old?.stop();
    const replacement: Service = await startService("presence", {
      ...old?.env,
      ADMIN_PORT: "0",
      PRESENCE_CONNECTION_LIMIT_POLICY: "refuse-newest",
    });
    stack.presence[0] = replacement;
    await replacement.waitReady();
    const first = await open("erin", "phone", 0);
    await presence.waitConnections("erin", 1);
    const second = await open("erin", "tablet", 1);
    await presence.waitConnections("erin", 2);
    const third = await open("erin", "laptop", 2);
    expect(await closedWithin(third)).toEqual({
      code: 4012,
      reason: "connection limit: at most 2 per user; new connections are refused",
    });
    const erin = await presence.waitConnections("erin", 2);
    expect(erin.connections.map((c) => c.deviceId)).toEqual(["phone", "tablet"]);
    expect(await stillOpen(first)).toBe(true);
    expect(await stillOpen(second)).toBe(true);
  });
});
