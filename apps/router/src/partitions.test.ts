import { DeadReason, Header, type MailboxEntry, type Subjects, subjects } from "@herald/protocol";
import { Kvm } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { intakeLanes, intakePartitions } from "./lanes.js";
import { counter, intakeSettled, type RouterFixture, startRouter } from "./test/router.js";
import { createStreams, exitCode, readAll, spawnRouter, useTestServer, waitFor } from "./test/support.js";

const world = useTestServer({ build: true });

const PARTITIONS = 4;
const KEYS = 8;
const CHANNELS = 4;

/** The earlier layout, with the intake partitioned the way persistence now sets it up. */
async function partitionedStreams(s: Subjects, partitions = PARTITIONS): Promise<void> {
  await createStreams(world.client.jsm, s);
  const info = await world.client.jsm.streams.info(s.streams.intake);
  await world.client.jsm.streams.update(s.streams.intake, {
    ...info.config,
    subjects: [...s.intakeSubjects],
    subject_transform: s.intakeTransform(partitions),
  });
  await world.client.jsm.streams.add({
    name: s.streams.channel("default"),
    subjects: [s.channelGroupAll("default")],
    allow_direct: true,
  });
}

/** A fresh intake of `partitions` partitions under `prefix`, and one router on it for `body`. */
async function withPartitionedRouter(
  prefix: string,
  partitions: number,
  body: (s: Subjects, prefix: string, router: RouterFixture) => Promise<void>,
): Promise<void> {
  const s = subjects(prefix);
  await partitionedStreams(s, partitions);
  const router = await startRouter(world.server.url, { HERALD_PREFIX: prefix });
  try {
    await body(s, prefix, router);
  } finally {
    await router.stop();
  }
}

/** Who holds each lane's lease: lease key → replica id. */
async function holders(s: Subjects): Promise<Map<string, string>> {
  const kv = await new Kvm(world.client.js).open(s.buckets.leases);
  const out = new Map<string, string>();
  for (const lane of intakeLanes(s, PARTITIONS)) {
    const entry = await kv.get(lane.leaseKey);
    if (entry?.operation === "PUT") out.set(lane.leaseKey, entry.string());
  }
  return out;
}

/** Message i: keyed send.users to the key's own user and to one user every key writes to, or a channel. */
async function publishLoad(s: Subjects, from: number, count: number): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let i = from; i < from + count; i++) {
    const key = `k${i % KEYS}`;
    const body = { userIds: [`u-${key}`, "everyone"], data: { key, i } };
    pending.push(world.client.js.publish(s.sendUsersKeyed(key), JSON.stringify(body)));
    const channel = `ch${i % CHANNELS}`;
    pending.push(world.client.js.publish(s.sendChannel(channel), JSON.stringify({ data: { channel, i } })));
    if (pending.length >= 400) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

type Stored = { key: string; i: number; at: number };

/** Every stored entry of `filter` in `stream`, in store order. */
async function stored(stream: string, filter: string): Promise<Map<string, Stored[]>> {
  const bySubject = new Map<string, Stored[]>();
  for (const msg of await readAll(world.client.jsm, stream, filter)) {
    const data = msg.json<MailboxEntry>().data as { key?: string; channel?: string; i: number };
    const list = bySubject.get(msg.subject) ?? [];
    list.push({ key: data.key ?? data.channel ?? "", i: data.i, at: msg.time.getTime() });
    bySubject.set(msg.subject, list);
  }
  return bySubject;
}

/**
 * Each key's (or channel's) messages in `list` appear once each, in publish order; returns the longest gap
 * between two stores of one key (how long its routing paused).
 */
function expectOrderPerKey(list: Stored[], total: number, perKey: (key: string) => number[]): number {
  const byKey = new Map<string, Stored[]>();
  for (const entry of list) byKey.set(entry.key, [...(byKey.get(entry.key) ?? []), entry]);
  let count = 0;
  let longest = 0;
  for (const [key, got] of byKey) {
    expect(
      got.map((entry) => entry.i),
      key,
    ).toEqual(perKey(key));
    count += got.length;
    for (let n = 1; n < got.length; n++)
      longest = Math.max(longest, (got[n]?.at ?? 0) - (got[n - 1]?.at ?? 0));
  }
  expect(count).toBe(total);
  return longest;
}

const indices = (total: number, modulo: number, rest: number) =>
  Array.from({ length: total }, (_, i) => i).filter((i) => i % modulo === rest);

/** Every key's and channel's messages of `publishLoad` stored once each, in order; the longest pauses. */
async function expectLoadInOrder(s: Subjects, total: number) {
  const mailboxes = await stored(s.streams.mailbox, s.mailboxAll);
  const everyone = mailboxes.get(s.mailbox("everyone")) ?? [];
  const pauseUsers = expectOrderPerKey(everyone, total, (key) => indices(total, KEYS, Number(key.slice(1))));
  for (let k = 0; k < KEYS; k++) {
    const own = mailboxes.get(s.mailbox(`u-k${k}`)) ?? [];
    expectOrderPerKey(own, total / KEYS, () => indices(total, KEYS, k));
  }
  const channels = await stored(s.streams.channel("default"), s.channelGroupAll("default"));
  let pauseChannels = 0;
  for (let c = 0; c < CHANNELS; c++) {
    const list = channels.get(s.channel("default", `ch${c}`)) ?? [];
    const pause = expectOrderPerKey(list, total / CHANNELS, () => indices(total, CHANNELS, c));
    pauseChannels = Math.max(pauseChannels, pause);
  }
  return { pauseUsers, pauseChannels };
}

describe("a partitioned intake", () => {
  it("is shared by the replicas, keeps each key's and channel's order, and survives a kill -9", async () => {
    const prefix = "parts";
    const s = subjects(prefix);
    await partitionedStreams(s);
    expect(await intakePartitions(world.client.jsm, s)).toBe(PARTITIONS);
    const env = { HERALD_PREFIX: prefix, ROUTER_ACK_WAIT: "1s", ROUTER_LEASE_TTL: "1s" };
    const victim = spawnRouter({ NATS_URL: world.server.url, ...env, ROUTER_REPLICA_ID: "victim" });
    await waitFor("the victim to route every lane", async () => (await holders(s)).size === PARTITIONS + 1);
    const routers: RouterFixture[] = [];
    try {
      for (const id of ["a", "b"])
        routers.push(await startRouter(world.server.url, { ...env, ROUTER_REPLICA_ID: id }));
      // Five lanes over three replicas: shares of two, two and one.
      await waitFor(
        "the lanes to be shared",
        async () => {
          const count = new Map<string, number>();
          for (const holder of (await holders(s)).values()) count.set(holder, (count.get(holder) ?? 0) + 1);
          return (
            count.size === 3 && [...count.values()].every((n) => n <= 2) && [...count.values()].length === 3
          );
        },
        30_000,
      );

      const total = 4_000;
      const load = publishLoad(s, 0, total);
      await waitFor(
        "routing under way",
        async () =>
          (await counter(routers[0]!.metrics, "herald_router_routed_messages_total")) +
            (await counter(routers[1]!.metrics, "herald_router_routed_messages_total")) >=
          200,
        30_000,
      );
      const victimLanes = [...(await holders(s))]
        .filter(([, holder]) => holder === "victim")
        .map(([key]) => key);
      victim.child.kill("SIGKILL");
      expect(await exitCode(victim.child)).toBe(null);
      expect(victimLanes.length).toBeGreaterThan(0);
      await load;
      await waitFor("the intake to drain", () => intakeSettled(world.client, prefix), 60_000);
      // The intake can drain before the takeover: the victim may have routed its lanes' last messages itself,
      // and its leases then stand until they expire.
      await waitFor(
        "the survivors to hold the victim's lanes",
        async () => {
          const after = await holders(s);
          return victimLanes.every((key) => ["a", "b"].includes(after.get(key) ?? ""));
        },
        30_000,
      );

      const { pauseUsers, pauseChannels } = await expectLoadInOrder(s, total);
      console.log(
        `partitioned intake, 3 routers, one killed (lanes ${victimLanes.join(", ")}): longest pause of one key ` +
          `${pauseUsers} ms, of one channel ${pauseChannels} ms`,
      );

      // Each replica says how many lanes it routes: together, every lane of the survivors.
      const lanesRouted = async (r: RouterFixture) =>
        (await r.metrics.getSingleMetric("herald_router_lanes_routed")?.get())?.values[0]?.value ?? 0;
      expect((await lanesRouted(routers[0]!)) + (await lanesRouted(routers[1]!))).toBe(PARTITIONS + 1);
      // A replica that joins gets its share.
      routers.push(await startRouter(world.server.url, { ...env, ROUTER_REPLICA_ID: "c" }));
      await waitFor(
        "the newcomer to route a lane",
        () => (routers[2]?.router.routedLanes().length ?? 0) >= 1,
        30_000,
      );
    } finally {
      victim.child.kill("SIGKILL");
      await Promise.all(routers.map((router) => router.stop()));
    }
  }, 180_000);

  it("routes a channel's messages stored before partitioning ahead of those stored after", async () => {
    const prefix = "repart";
    const s = subjects(prefix);
    await createStreams(world.client.jsm, s);
    await world.client.jsm.streams.add({
      name: s.streams.channel("default"),
      subjects: [s.channelGroupAll("default")],
      allow_direct: true,
    });
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await world.client.js.publish(
          s.sendChannel("news"),
          JSON.stringify({ data: { channel: "news", i } }),
        );
      }
    };
    await publish(0, 200);
    const info = await world.client.jsm.streams.info(s.streams.intake);
    await world.client.jsm.streams.update(s.streams.intake, {
      ...info.config,
      subject_transform: s.intakeTransform(PARTITIONS),
    });
    await publish(200, 400);
    const router = await startRouter(world.server.url, { HERALD_PREFIX: prefix });
    try {
      await waitFor("the intake to drain", () => intakeSettled(world.client, prefix), 60_000);
      const channels = await stored(s.streams.channel("default"), s.channelGroupAll("default"));
      const list = channels.get(s.channel("default", "news")) ?? [];
      expectOrderPerKey(list, 400, () => indices(400, 1, 0));
    } finally {
      await router.stop();
    }
  }, 90_000);

  it("dead-letters bad partitioned input under the subject it was published to, and routes the rest", async () => {
    await withPartitionedRouter("partbad", PARTITIONS, async (s, prefix, router) => {
      const bad = [
        { subject: s.sendUsersKeyed("tenant-1"), payload: '{"data":1}', reason: DeadReason.InvalidMessage },
        { subject: s.sendUsersKeyed("tenant-2"), payload: "{nope", reason: DeadReason.InvalidJson },
        { subject: s.sendChannel("news"), payload: '{"id":"x"}', reason: DeadReason.MissingData },
        { subject: s.sendChannel("bad$"), payload: '{"data":1}', reason: DeadReason.InvalidChannel },
      ];
      for (const b of bad) await world.client.js.publish(b.subject, b.payload);
      await world.client.js.publish(s.sendUsersKeyed("tenant-1"), '{"data":"ok","userIds":["kept"]}');
      await waitFor("the intake to drain", () => intakeSettled(world.client, prefix), 30_000);
      const dead = await readAll(world.client.jsm, s.streams.dead, s.deadAll);
      // Lanes route in parallel: the letters come in any order.
      const bySubject = (a: { subject: string }, b: { subject: string }) =>
        a.subject.localeCompare(b.subject);
      const letters = dead.map((m) => ({
        subject: m.header?.get(Header.DeadSubject) ?? "",
        reason: m.subject.split(".").at(-1),
      }));
      expect(letters.sort(bySubject)).toEqual(
        bad.map((b) => ({ subject: b.subject, reason: b.reason })).sort(bySubject),
      );
      expect(await readAll(world.client.jsm, s.streams.mailbox, s.mailbox("kept"))).toHaveLength(1);
      expect(router.router.notReadyReason()).toBeUndefined();
    });
  }, 60_000);

  it("starts the lanes of partitions added while it runs", async () => {
    await withPartitionedRouter("partgrow", 2, async (s, prefix, router) => {
      await waitFor("two partitions routed", () => router.router.routedLanes().length === 3);
      const info = await world.client.jsm.streams.info(s.streams.intake);
      await world.client.jsm.streams.update(s.streams.intake, {
        ...info.config,
        subject_transform: s.intakeTransform(PARTITIONS),
      });
      for (let c = 0; c < 16; c++) await world.client.js.publish(s.sendChannel(`grow${c}`), '{"data":1}');
      const spread = await world.client.jsm.streams.info(s.streams.intake, {
        subjects_filter: s.routePartition("*"),
      });
      // Some of the channels landed in the new partitions (2 and 3), which no lane read before.
      const partitionsUsed = new Set(Object.keys(spread.state.subjects ?? {}).map((x) => x.split(".")[2]));
      expect([...partitionsUsed].some((k) => Number(k) >= 2)).toBe(true);
      await waitFor("the new partitions routed", () => intakeSettled(world.client, prefix), 30_000);
      expect(router.router.routedLanes()).toHaveLength(PARTITIONS + 1);
    });
  }, 60_000);
});
