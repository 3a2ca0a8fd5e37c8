import {
  connectClient,
  type NatsServer,
  type Stack,
  signToken,
  startNatsServer,
  startStack,
  type TestClient,
  waitUntil,
  withTimeout,
} from "@herald/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrapeMetric } from "./support/metrics.js";

/**
 * Keep-alive through the connector's own timers: pings go out in slices spread over `HERALD_PING_INTERVAL`
 * (`PacedSweep`), and a socket from which nothing arrived since its previous ping is ended.
 */
const PING_INTERVAL_MS = 400;
let nats: NatsServer;
let stack: Stack;
const clients: TestClient[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  stack = await startStack({
    nats,
    envFor: { connector: { HERALD_PING_INTERVAL: `${PING_INTERVAL_MS}ms` } },
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.terminate().catch(() => {})));
  await stack?.stop().catch(() => {});
  await nats?.dispose();
});

async function open(userId: string): Promise<TestClient> {
  const client = await connectClient(
    stack.wsUrl(await signToken({ sub: userId, did: "d1" }, stack.jwtSecret)),
  );
  clients.push(client);
  await client.waitFor((frame) => frame.type === "welcome");
  return client;
}

describe("keep-alive pings", () => {
  it("ends a client that stops answering and keeps the ones that answer", async () => {
    const pings: number[] = [];
    const live = await Promise.all(["ka-1", "ka-2", "ka-3"].map(open));
    live[0]?.ws.on("ping", () => pings.push(Date.now()));
    const silent = await open("ka-silent");
    // A client whose socket is not read answers no ping (`ws` sends the pong when it reads the ping).
    silent.ws.pause();
    const connector = stack.connectors[0]!;
    // Its next two pings go unanswered, so the connector ends it: three connections left.
    await waitUntil(async () => (await scrapeMetric(connector, "herald_connector_connections")) === 3, {
      timeoutMs: PING_INTERVAL_MS * 10,
      intervalMs: 100,
      message: "the connector ended the silent client",
    });
    silent.ws.resume();
    const closed = await withTimeout(silent.closed, 5_000, "the silent client saw its end");
    expect(closed.code).toBe(1006);
    // The answering ones were pinged about once an interval, and are still open.
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(live.every((c) => c.closeInfo() === undefined)).toBe(true);
  });
});
