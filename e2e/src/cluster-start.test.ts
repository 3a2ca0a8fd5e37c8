import { subjects } from "@herald/protocol";
import {
  type NatsCluster,
  natsClientOptions,
  natsServiceEnv,
  type Service,
  startNatsCluster,
  startService,
  waitForJetStream,
  waitUntil,
} from "@herald/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Replicas of persistence that start while the NATS cluster has no quorum (a fresh install, nodes still
// scheduling) get timeouts and "temporarily unavailable" from JetStream. They must wait for it, not exit.

let cluster: NatsCluster | undefined;
const services: Service[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  await waitForJetStream(cluster);
}, 60_000);

afterAll(async () => {
  await Promise.all(services.map((service) => service.kill()));
  await cluster?.dispose();
});

describe("persistence starting before the NATS cluster has a quorum", () => {
  it("waits for JetStream, then creates the R3 streams; two replicas at once", async () => {
    const c = cluster!;
    const [first, ...others] = c.nodes;
    await Promise.all(others.map((node) => node.stop()));
    const env = {
      NATS_URL: first!.url,
      ...natsServiceEnv(c, "persistence"),
      HERALD_REPLICAS: "3",
    };
    for (let i = 0; i < 2; i++) services.push(await startService("persistence", env));
    // Each replica says it is waiting (JetStream cannot answer without a quorum) and stays not ready.
    await waitUntil(() => services.every((s) => s.logs().some((line) => line.includes("not settled"))), {
      timeoutMs: 30_000,
      message: "persistence to log that JetStream is not settled",
    });
    for (const service of services) expect((await fetch(`${service.adminUrl}/readyz`)).status).toBe(503);
    await Promise.all(others.map((node) => node.restart()));
    await Promise.all(services.map((service) => service.waitReady(60_000)));

    const nc = await connect(natsClientOptions(c, "operator"));
    try {
      const jsm = await jetstreamManager(nc);
      const mailbox = await jsm.streams.info(subjects("herald").streams.mailbox);
      expect(mailbox.config.num_replicas).toBe(3);
    } finally {
      await nc.close();
    }
  }, 120_000);
});
