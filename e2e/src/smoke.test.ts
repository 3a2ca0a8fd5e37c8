import {
  freePorts,
  type NatsCluster,
  type NatsServer,
  startNatsCluster,
  startNatsServer,
  waitForJetStream,
  waitUntil,
} from "@herald/testkit";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";

// The fixture every other e2e test stands on: a private JetStream server that can be stopped, restarted on
// the same port and store, and killed. These tests use streams of their own, so they run it without Herald's
// identities (`auth: false`); every other test runs with them (e2e/src/nats-permissions.test.ts).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let server: NatsServer | undefined;
let cluster: NatsCluster | undefined;
const connections: NatsConnection[] = [];

async function open(url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url.split(","), maxReconnectAttempts: 0 });
  connections.push(nc);
  return nc;
}

afterEach(async () => {
  await Promise.all(connections.splice(0).map((nc) => nc.close().catch(() => {})));
  await server?.dispose();
  await cluster?.dispose();
  server = undefined;
  cluster = undefined;
});

describe("nats-server fixture", () => {
  it("starts JetStream, keeps file-stored data across a restart, and can be killed", async () => {
    server = await startNatsServer({ auth: false });
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);

    let nc = await open(server.url);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "SMOKE", subjects: ["smoke.>"], storage: StorageType.File });
    const ack = await jetstream(nc).publish("smoke.a", encoder.encode("hello"));
    expect(ack.seq).toBe(1);
    const stored = await jsm.streams.getMessage("SMOKE", { seq: 1 });
    expect(stored?.subject).toBe("smoke.a");
    expect(decoder.decode(stored?.data)).toBe("hello");
    await nc.close();

    await server.stop();
    expect(server.pid()).toBeUndefined();
    await expect(open(server.url)).rejects.toThrow();

    await server.restart();
    nc = await open(server.url);
    const again = await (await jetstreamManager(nc)).streams.getMessage("SMOKE", { seq: 1 });
    expect(decoder.decode(again?.data)).toBe("hello");
    const next = await jetstream(nc).publish("smoke.b", encoder.encode("after restart"));
    expect(next.seq).toBe(2);

    const pid = server.pid();
    expect(pid).toBeTypeOf("number");
    await server.kill();
    // The process is gone, not just disconnected.
    expect(() => process.kill(pid ?? 0, 0)).toThrow();
    await waitUntil(() => nc.isClosed(), { timeoutMs: 10_000, message: "the client to notice the kill" });
  });

  it("accepts a 10 MiB JetStream publish (max_payload 16MB), as an oversized Herald publish needs", async () => {
    server = await startNatsServer({ auth: false });
    const nc = await open(server.url);
    expect(nc.info?.max_payload).toBe(16 * 1024 * 1024);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "BIG", subjects: ["big.>"], storage: StorageType.File });
    const big = new Uint8Array(10 * 1024 * 1024).fill(7);
    const ack = await jetstream(nc, { timeout: 30_000 }).publish("big.one", big);
    const stored = await jsm.streams.getMessage("BIG", { seq: ack.seq });
    expect(stored?.data.length).toBe(big.length);
  });

  it("refuses to start on a port that is taken, with its output in the error", async () => {
    server = await startNatsServer();
    await expect(startNatsServer({ port: server.port, startTimeoutMs: 5_000 })).rejects.toThrow(
      /nats-server/,
    );
  });

  it("forms a 3-node JetStream cluster that keeps an R3 stream when one node dies", async () => {
    cluster = await startNatsCluster(3, { auth: false });
    expect(cluster.url.split(",")).toHaveLength(3);
    await waitForJetStream(cluster.url);

    const nc = await open(cluster.url);
    const jsm = await jetstreamManager(nc);
    await waitUntil(
      () =>
        jsm.streams.add({
          name: "SMOKE3",
          subjects: ["smoke3.>"],
          storage: StorageType.File,
          num_replicas: 3,
        }),
      { timeoutMs: 30_000, intervalMs: 250, message: "an R3 stream to be created" },
    );
    const ack = await jetstream(nc).publish("smoke3.a", encoder.encode("replicated"));
    expect(ack.seq).toBe(1);

    const [first, second, third] = cluster.nodes;
    await first?.kill();
    // The survivors still serve the message once they agree on a stream leader.
    const survivor = await open(`${second?.url},${third?.url}`);
    const message = await waitUntil(
      async () => (await jetstreamManager(survivor)).streams.getMessage("SMOKE3", { seq: 1 }),
      { timeoutMs: 30_000, intervalMs: 250, message: "the R3 message after losing a node" },
    );
    expect(decoder.decode(message.data)).toBe("replicated");
  });
});

describe("freePorts", () => {
  it("gives distinct ports", async () => {
    const ports = await freePorts(6);
    expect(new Set(ports).size).toBe(6);
    for (const port of ports) expect(port).toBeGreaterThan(0);
  });
});
