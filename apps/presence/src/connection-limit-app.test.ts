import { type DisconnectCommand, subjects } from "@herald/protocol";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeConnector } from "./test/fake-connector.js";
import { type NatsServer, startNatsServer, waitFor } from "./test/nats-server.js";
import { type Replica, startReplica } from "./test/replica.js";

let server: NatsServer;
let nc: NatsConnection;
const stops: (() => unknown)[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await nc?.close();
  await server?.stop();
});

describe("per-user connection limit", () => {
  it("with two replicas, only the emitter commands one 4012 disconnect per excess connection", async () => {
    const prefix = `limit${process.pid}`;
    const s = subjects(prefix);
    const commands: DisconnectCommand[] = [];
    const sub = nc.subscribe(s.controlDisconnect, {
      callback: (_err, msg) => void commands.push(msg.json<DisconnectCommand>()),
    });
    stops.push(() => sub.unsubscribe());
    const env = {
      HERALD_PREFIX: prefix,
      PRESENCE_MAX_CONNECTIONS_PER_USER: "2",
      PRESENCE_CONNECTION_LIMIT_POLICY: "close-oldest",
    };
    const replicas: Replica[] = [];
    for (let i = 0; i < 2; i++) {
      const replica = await startReplica(server.url, env);
      stops.push(() => replica.stop());
      replicas.push(replica);
    }
    await waitFor(() => replicas.some((r) => r.app.isEmitter()), "an emitter");
    const [c1, c2] = [new FakeConnector(nc, s, "c1"), new FakeConnector(nc, s, "c2")];
    stops.push(
      () => c1.stop(),
      () => c2.stop(),
    );
    const first = c1.open("alice", "phone");
    await waitFor(() => replicas.every((r) => r.app.registry.connectionTotal === 1), "first open applied");
    c2.open("alice", "laptop");
    c2.open("bob", "laptop");
    await waitFor(() => replicas.every((r) => r.app.registry.connectionTotal === 3), "3 connections");
    expect(commands).toEqual([]);
    c1.open("alice", "tablet");
    await waitFor(() => commands.length >= 1, "a disconnect command");
    await nc.flush();
    expect(commands).toEqual([
      {
        userId: "alice",
        connectionId: first.connectionId,
        code: 4012,
        reason: "connection limit: at most 2 per user; the oldest is closed",
      },
    ]);
    // A quick round trip through both replicas: no second command came from the other one.
    await nc.request(s.presenceCount, "", { timeout: 2000 });
    await nc.flush();
    expect(commands).toHaveLength(1);
  });
});
