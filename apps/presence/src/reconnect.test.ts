import { subjects } from "@herald/protocol";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EventLog, FakeConnector } from "./test/fake-connector.js";
import { type NatsServer, startNatsServer, waitFor } from "./test/nats-server.js";
import { startReplica } from "./test/replica.js";

let server: NatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.stop();
});

it("a replica's own NATS outage longer than the connector timeout causes no phantom offline events", async () => {
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const s = subjects("recon");
  const events = new EventLog(nc, s);
  const c1 = new FakeConnector(nc, s, "c1");
  const replica = await startReplica(server.url, {
    HERALD_PREFIX: "recon",
    PRESENCE_CONNECTOR_TIMEOUT: "1s",
  });
  try {
    await waitFor(() => replica.app.isEmitter(), "emitter");
    c1.open("alice");
    await waitFor(() => events.of("alice").length === 1, "alice online");
    // A connector that only heartbeats on its own schedule (no sync answer): its silence during our outage
    // must not count against it.
    c1.answerSync = false;
    await server.kill();
    await waitFor(() => replica.app.notReadyReason() === "nats disconnected", "not ready while disconnected");
    await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than the connector timeout, on purpose
    await server.restart();
    // Back: the replica asks for a full heartbeat, the fake connector answers, the view is unchanged.
    await waitFor(
      () => replica.app.notReadyReason() === undefined,
      () => `ready: ${replica.app.notReadyReason()}`,
    );
    await waitFor(() => c1.syncRequests > 0, "sync request after reconnect");
    expect(replica.app.registry.get("alice").online).toBe(true);
    c1.open("bob");
    await waitFor(() => events.of("bob").length === 1, "events flow again", 5000);
    expect(events.of("alice")).toEqual(["online"]);
  } finally {
    await replica.stop().catch(() => {});
    c1.stop();
    events.stop();
    await nc.close();
  }
}, 30_000);
