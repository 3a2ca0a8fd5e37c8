import {
  type NatsServer,
  type ServiceName,
  type Stack,
  startNatsServer,
  startStack,
  waitUntil,
} from "@herald/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { type Backend, connectBackend } from "./support/backend.js";
import { type ChannelWatch, expectedChannelIds, watchChannels } from "./support/channel-watch.js";
import { expectedIds, type Fleet, startFleet } from "./support/fleet.js";
import { deliveredAtLeast, expectEverythingOnceInOrder } from "./support/fleet-checks.js";
import { startBalancer } from "./support/tcp-balancer.js";

const USERS = 100;
const PER_USER = 200; // 20,000 messages in all
const CHANNELS = 10;
const PER_CHANNEL = 200;

let nats: NatsServer | undefined;
let stack: Stack | undefined;
let backend: Backend | undefined;
let fleet: Fleet | undefined;
let balancer: { port: number; close: () => Promise<void> } | undefined;
let channels: ChannelWatch | undefined;

afterEach(async () => {
  await channels?.close();
  await fleet?.close();
  await balancer?.close();
  await backend?.close();
  await stack?.stop().catch(() => {});
  await nats?.dispose();
  fleet = undefined;
  channels = undefined;
  balancer = undefined;
  backend = undefined;
  stack = undefined;
  nats = undefined;
});

async function setUp(replicas = 1) {
  nats = await startNatsServer();
  stack = await startStack({
    nats,
    replicas,
    counts: { persistence: replicas, router: replicas, presence: replicas },
    envFor: { connector: { HERALD_ACK_TIMEOUT: "5s" }, router: { ROUTER_ACK_WAIT: "3s" } },
  });
  backend = await connectBackend(nats);
  const s = stack;
  // Clients reach the connectors through a balancer, as through an ingress; restarts keep their ports.
  balancer = await startBalancer(() => s.connectors.map((c) => c.port));
  const url = `ws://127.0.0.1:${balancer.port}/ws`;
  fleet = await startFleet({ url: () => url, secret: s.jwtSecret, users: USERS, backend });
  return { stack: s, fleet, backend, nats };
}

function report(label: string, f: Fleet) {
  const total = USERS * PER_USER;
  const duplicates = f.frames() - total;
  console.log(
    `${label}: ${total} messages, ${f.frames()} frames, ${duplicates} duplicate deliveries, app repeats ${f.repeats()}`,
  );
}

/**
 * When the backend itself retries a publish whose PubAck was lost, the retry is accepted after later
 * messages: order then follows acceptance, not the backend's numbering, so only "each once" is checked.
 */
function expectEverythingOnce(f: Fleet) {
  for (const [user, ids] of f.handled) {
    expect([...ids].sort(), user).toEqual(expectedIds(user, PER_USER).sort());
  }
  expect(f.repeats()).toBe(0);
}

describe.each<ServiceName>(["connector", "router", "persistence"])("kill -9 of the %s under load", (name) => {
  it("loses nothing; the app sees each id once, in order", async () => {
    const { stack: s, fleet: f } = await setUp();
    const publishing = f.publishAll(PER_USER);
    await deliveredAtLeast(f, (USERS * PER_USER) / 4);
    const victim =
      name === "connector" ? s.connectors[0]! : name === "router" ? s.routers[0]! : s.persistence[0]!;
    await victim.kill();
    await victim.restart();
    await victim.waitReady(30_000);
    await publishing;
    await f.waitAllHandled(PER_USER, 120_000);
    report(`kill -9 ${name}`, f);
    expectEverythingOnceInOrder(f, PER_USER);
  });
});

describe("kill -9 of the router under send.users load (the path the router still carries)", () => {
  it("loses nothing; the app sees each id once, in order", async () => {
    const { stack: s, fleet: f } = await setUp();
    const publishing = f.publishAll(PER_USER, 0, "users");
    await deliveredAtLeast(f, (USERS * PER_USER) / 4);
    await s.routers[0]!.kill();
    await s.routers[0]!.restart();
    await s.routers[0]!.waitReady(30_000);
    await publishing;
    await f.waitAllHandled(PER_USER, 120_000);
    report("kill -9 router (send.users)", f);
    expectEverythingOnceInOrder(f, PER_USER);
  });
});

describe("three routers under send.users and channel load, the routing one killed", () => {
  it("lose nothing, keep each user's and channel's order, and print the longest pause", async () => {
    nats = await startNatsServer();
    // Default router settings: the pause printed is what an install sees.
    stack = await startStack({ nats, counts: { router: 3 } });
    backend = await connectBackend(nats);
    const s = stack;
    const url = `ws://127.0.0.1:${s.connectors[0]!.port}/ws`;
    fleet = await startFleet({ url: () => url, secret: s.jwtSecret, users: USERS, backend });
    channels = await watchChannels({
      url: (token) => s.wsUrl(token),
      secret: s.jwtSecret,
      backend,
      count: CHANNELS,
    });
    const f = fleet;
    const c = channels;
    const publishing = Promise.all([f.publishAll(PER_USER, 0, "users"), c.publishAll(PER_CHANNEL)]);
    await deliveredAtLeast(f, (USERS * PER_USER) / 4);
    // The replicas whose latest lease line says they route.
    const held = (r: (typeof s.routers)[number]) =>
      r
        .logRecords()
        .filter((l) => typeof l.held === "boolean")
        .at(-1)?.held === true;
    const leader = await waitUntil(() => s.routers.find(held), { message: "a routing replica" });
    const killedAt = Date.now();
    await leader.kill();
    await publishing;
    await f.waitAllHandled(PER_USER, 120_000);
    await c.waitAll(PER_CHANNEL, 60_000);
    const pause = f.longestPause(killedAt - 1_000);
    const channelPause = c.longestPause(killedAt - 1_000);
    report("kill -9 of the routing replica of 3 (send.users + channels)", f);
    console.log(`longest pause of one user's deliveries after the kill: ${pause.ms} ms (${pause.user})`);
    console.log(
      `longest pause of one channel after the kill: ${channelPause.ms} ms (${channelPause.channel})`,
    );
    expectEverythingOnceInOrder(f, PER_USER);
    for (const [channel, ids] of c.ids)
      expect(ids, channel).toEqual(expectedChannelIds(channel, PER_CHANNEL));
  });
});

describe("nats-server restarted mid-stream (file storage)", () => {
  it("loses nothing", async () => {
    const { fleet: f, nats: server } = await setUp();
    // A publish whose PubAck was lost in the restart is retried by the backend with the same id.
    const publishing = f.publishAll(PER_USER, 60_000);
    await deliveredAtLeast(f, (USERS * PER_USER) / 4);
    await server.restart();
    await publishing;
    await f.waitAllHandled(PER_USER, 120_000);
    report("nats restart", f);
    expectEverythingOnce(f);
  });
});

describe("two replicas of every service", () => {
  it("keep the guarantees while one of each is killed", async () => {
    const { stack: s, fleet: f } = await setUp(2);
    const publishing = f.publishAll(PER_USER);
    await deliveredAtLeast(f, (USERS * PER_USER) / 4);
    await Promise.all([s.routers[0]!.kill(), s.persistence[0]!.kill(), s.presence[0]!.kill()]);
    await s.connectors[0]!.kill();
    await publishing;
    await f.waitAllHandled(PER_USER, 120_000);
    report("two replicas, one of each killed", f);
    expectEverythingOnceInOrder(f, PER_USER);
  });
});
