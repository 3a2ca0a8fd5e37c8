import { type MailboxEntry, subjects } from "@herald/protocol";
import { ensureConsumer } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { counter, intakeSettled, startRouter } from "./test/router.js";
import {
  connectTest,
  createStreams,
  exitCode,
  readAll,
  spawnRouter,
  useTestServer,
  waitFor,
} from "./test/support.js";

const world = useTestServer({ build: true });

/** Publishes `count` messages round-robin over `users` users, pipelined; returns what each user must get. */
async function publishMany(prefix: string, count: number, users: number): Promise<Map<string, number[]>> {
  const s = subjects(prefix);
  const expected = new Map<string, number[]>();
  const pending = [];
  for (let i = 0; i < count; i++) {
    const user = `user${i % users}`;
    expected.set(user, [...(expected.get(user) ?? []), i]);
    pending.push(world.client.js.publish(s.sendUser(user), JSON.stringify({ data: i })));
    if (pending.length >= 1_000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return expected;
}

/** Every user's mailbox holds exactly its messages, each once, in publish order. */
async function expectExactlyOnce(prefix: string, expected: Map<string, number[]>): Promise<void> {
  const s = subjects(prefix);
  const all = await readAll(world.client.jsm, s.streams.mailbox, s.mailboxAll);
  const got = new Map<string, number[]>();
  for (const msg of all) {
    const user = msg.subject.slice(s.mailboxPrefix.length);
    got.set(user, [...(got.get(user) ?? []), msg.json<MailboxEntry>().data as number]);
  }
  for (const [user, want] of expected) {
    expect(got.get(user) ?? [], user).toEqual(want);
  }
  expect(all).toHaveLength([...expected.values()].reduce((sum, list) => sum + list.length, 0));
}

describe("several router replicas", () => {
  it("route with one leader at a time, hand over on stop, and keep every user's order", async () => {
    const prefix = "pair";
    const s = subjects(prefix);
    await createStreams(world.client.jsm, s);
    const env = { HERALD_PREFIX: prefix, ROUTER_PREFETCH: "16", ROUTER_MAX_INFLIGHT: "32" };
    const a = await startRouter(world.server.url, env);
    await waitFor("a to lead", () => a.router.notReadyReason() === undefined && a.router.isLeader());
    const b = await startRouter(world.server.url, env);
    try {
      expect(b.router.isLeader()).toBe(false);
      expect(b.router.notReadyReason()).toBeUndefined();
      const first = await publishMany(prefix, 2_500, 50);
      await waitFor("the first half to be routed", () => intakeSettled(world.client, prefix), 60_000);
      await a.stop();
      await waitFor("b to take over", () => b.router.isLeader(), 10_000);
      const second = await publishMany(prefix, 2_500, 50);
      await waitFor("the intake to drain", () => intakeSettled(world.client, prefix), 60_000);
      const expected = new Map<string, number[]>();
      for (const half of [first, second]) {
        for (const [user, list] of half) expected.set(user, [...(expected.get(user) ?? []), ...list]);
      }
      await expectExactlyOnce(prefix, expected);
      expect(await counter(a.metrics, "herald_router_routed_messages_total")).toBeGreaterThanOrEqual(2_500);
      expect(await counter(b.metrics, "herald_router_routed_messages_total")).toBeGreaterThanOrEqual(2_500);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 90_000);

  it("route what a dead leader left in stream order, though the server hands it back in expiry order", async () => {
    const prefix = "inherit";
    const s = subjects(prefix);
    await createStreams(world.client.jsm, s);
    const ackWaitMs = 1_000;
    await ensureConsumer(world.client.jsm, {
      stream: s.streams.intake,
      name: s.consumers.router,
      ackWaitMs,
      maxAckPending: 1024,
    });
    const expected = await publishMany(prefix, 6, 1);

    // A leader that took all six, nak'd the second with a delay (a failed write's back-off) and died.
    const dead = await connectTest(world.server.url, "dead-leader");
    const consumer = await dead.js.consumers.get(s.streams.intake, s.consumers.router);
    const taken = [];
    for await (const msg of await consumer.fetch({ max_messages: 6, expires: 5_000 })) {
      taken.push(msg);
      if (taken.length === 6) break;
    }
    expect(taken.map((msg) => msg.info.streamSequence)).toEqual([1, 2, 3, 4, 5, 6]);
    taken[1]?.nak(2.5 * ackWaitMs);
    await dead.nc.flush();
    await dead.nc.close();

    const successor = await startRouter(world.server.url, { HERALD_PREFIX: prefix, ROUTER_ACK_WAIT: "1s" });
    try {
      // Newer messages of the same user arrive while the inherited ones are still away.
      const later = await publishMany(prefix, 4, 1);
      expected.set("user0", [...(expected.get("user0") ?? []), ...(later.get("user0") ?? [])]);
      await waitFor("the intake to drain", () => intakeSettled(world.client, prefix), 20_000);
      await expectExactlyOnce(prefix, expected);
    } finally {
      await successor.stop();
    }
  }, 60_000);

  it("lose nothing and keep order when the leader is killed mid-batch: the standby routes what it held after ack_wait", async () => {
    const prefix = "kill";
    const s = subjects(prefix);
    await createStreams(world.client.jsm, s);
    const total = 20_000;
    const expected = await publishMany(prefix, total, 100);
    const env = { NATS_URL: world.server.url, HERALD_PREFIX: prefix, ROUTER_ACK_WAIT: "2s" };

    const victim = spawnRouter(env);
    await waitFor(
      "the victim to be mid-way",
      async () => (await world.client.jsm.streams.info(s.streams.mailbox)).state.messages >= 2_000,
      30_000,
    );
    victim.child.kill("SIGKILL");
    expect(await exitCode(victim.child)).toBe(null);
    const held = await world.client.jsm.consumers.info(s.streams.intake, s.consumers.router);
    // The killed replica held delivered, unacked messages: they must come back.
    expect(held.num_ack_pending).toBeGreaterThan(0);
    expect((await world.client.jsm.streams.info(s.streams.mailbox)).state.messages).toBeLessThan(total);

    const survivor = await startRouter(world.server.url, { HERALD_PREFIX: prefix, ROUTER_ACK_WAIT: "2s" });
    try {
      await waitFor("the intake to drain", () => intakeSettled(world.client, prefix), 60_000);
      await expectExactlyOnce(prefix, expected);
    } finally {
      await survivor.stop();
    }
  }, 120_000);
});
