import { type CursorReply, DeadReason, Header, userToken } from "@herald/protocol";
import { connectClient, signToken, waitUntil } from "@herald/testkit";
import { JetStreamApiError } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { scrapeMetric } from "./support/metrics.js";
import { useStack } from "./support/use-stack.js";

/** nats-server's JSStreamMessageExceedsMaximumErr (not among the client's `JetStreamApiCodes`). */
const MESSAGE_EXCEEDS_MAXIMUM = 10054;

/** Single-user sends: stored by the mailbox stream itself, one write, checked when read (issue 14). */
const world = useStack();

const connectAs = async (sub: string, did = "default") =>
  connectClient(world.stack.wsUrl(await signToken({ sub, did }, world.stack.jwtSecret)), { autoAck: true });

async function cursorOf(userId: string, deviceId = "default") {
  const reply = await world.backend.request<CursorReply>(world.backend.s.cursorGet, { userId });
  return reply.devices.find((d) => d.deviceId === deviceId);
}

async function deadLettersFor(userId: string) {
  const subject = world.backend.s.sendUser(userToken(userId));
  const all = await world.operator.deadLetters();
  return all.filter((l) => l.originalSubject === subject);
}

describe("single-user sends", () => {
  it("are stored once in the user's mailbox by the PubAck, with no router in the path", async () => {
    const s = world.backend.s;
    const router = world.stack.routers[0]!;
    await router.kill();
    try {
      const ack = await world.backend.toUser("direct", { data: "no router", id: "d-1" });
      expect(ack.stream).toBe(s.streams.mailbox);
      expect(await world.operator.mailboxCount("direct")).toBe(1);
      const intake = await (await world.operator.jsm()).streams.info(s.streams.intake);
      expect(intake.state.messages).toBe(0);
      const client = await connectAs("direct");
      const [message] = await client.waitForMessages(1);
      expect(message).toMatchObject({ id: "d-1", data: "no router", seq: ack.seq });
      await client.close();
    } finally {
      await router.restart();
      await router.waitReady();
    }
  });

  it("are deduplicated by Nats-Msg-Id; the body id is only the id the client sees", async () => {
    const first = await world.backend.publish(
      world.backend.s.sendUser("dedup"),
      { data: 1, id: "shown" },
      "key",
    );
    const again = await world.backend.publish(world.backend.s.sendUser("dedup"), { data: 2 }, "key");
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, seq: first.seq });
    const plain = '{"data":3,"id":"no-header"}';
    await world.backend.publish(world.backend.s.sendUser("dedup"), plain);
    await world.backend.publish(world.backend.s.sendUser("dedup"), '{"data":4}', "header-only");
    expect(await world.operator.mailboxCount("dedup")).toBe(3);
    const client = await connectAs("dedup");
    const messages = await client.waitForMessages(3);
    expect(messages.map((m) => [m.id, m.data])).toEqual([
      ["shown", 1],
      ["no-header", 3],
      ["header-only", 4],
    ]);
    await client.close();
  });

  it("over the size limit are refused at publish, and nothing is stored", async () => {
    const big = JSON.stringify({ data: "x".repeat(70 * 1024) });
    const refused = await world.backend.publish(world.backend.s.sendUser("big"), big).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(JetStreamApiError);
    expect((refused as JetStreamApiError).code).toBe(MESSAGE_EXCEEDS_MAXIMUM);
    expect(await world.operator.mailboxCount("big")).toBe(0);
  });

  it("that are not valid are dead-lettered when read, with their reason, and never block the user", async () => {
    const user = "readcheck";
    const subject = world.backend.s.sendUser(user);
    const client = await connectAs(user, "phone");
    const bad = [
      { payload: "{not json", reason: DeadReason.InvalidJson },
      { payload: '{"id":"no-data"}', reason: DeadReason.MissingData },
      { payload: '{"data":1,"id":"has space"}', reason: DeadReason.InvalidMessage },
    ];
    for (const b of bad) await world.backend.publish(subject, b.payload);
    const valid = await world.backend.toUser(user, { data: "after them", id: "ok-1" });
    const [message] = await client.waitForMessages(1);
    expect(message).toMatchObject({ id: "ok-1", seq: valid.seq });
    const letters = await waitUntil(
      async () => {
        const found = await deadLettersFor(user);
        return found.length >= bad.length ? found : undefined;
      },
      { timeoutMs: 10_000, message: "dead letters of the invalid entries" },
    );
    expect(letters.map((l) => l.reason).sort()).toEqual(bad.map((b) => b.reason).sort());
    for (const letter of letters) {
      const original = bad.find((b) => b.reason === letter.reason)!;
      expect(Buffer.from(letter.data).toString()).toBe(original.payload);
      expect(letter.header).toMatch(/\w+/);
    }
    // The device's cursor steps over the invalid entries: everything is acked once ok-1 is.
    await waitUntil(async () => (await cursorOf(user, "phone"))?.ackedSeq === valid.seq, {
      timeoutMs: 10_000,
      message: "cursor past the invalid entries",
    });
    // An invalid entry with nothing after it is dead-lettered too: the connected device catches up past it.
    await world.backend.publish(subject, "[]");
    await waitUntil(async () => (await deadLettersFor(user)).length === bad.length + 1, {
      timeoutMs: 10_000,
      message: "the last entry dead-lettered while the device is connected",
    });
    await client.close();
    // Another device reads them too (replay): nothing invalid reaches it, and each is dead-lettered once.
    const laptop = await connectAs(user, "laptop");
    expect((await laptop.waitForMessages(1)).map((m) => m.id)).toEqual(["ok-1"]);
    expect(await deadLettersFor(user)).toHaveLength(bad.length + 1);
    expect(client.messages().map((m) => m.id)).toEqual(["ok-1"]);
    const counted = await scrapeMetric(
      world.stack.persistence[0]!,
      "herald_persistence_dead_letters_total",
      `reason="${DeadReason.InvalidJson}"`,
    );
    expect(counted).toBeGreaterThanOrEqual(1);
    await laptop.close();
  });

  it("keep their order, and a send.users published after a single send's PubAck comes after it", async () => {
    const user = "mixed";
    const client = await connectAs(user);
    const path: ("user" | "users")[] = [];
    for (let i = 0; i < 60; i++) {
      const body = { data: i, id: `mx-${i}` };
      if (i % 4 === 3) {
        path.push("users");
        await world.backend.toUsers({ ...body, userIds: [user, "mixed-other"] });
      } else {
        path.push("user");
        await world.backend.toUser(user, body);
      }
    }
    const order = (await client.waitForMessages(60, 30_000)).map((m) => m.data as number);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    for (const kind of ["user", "users"] as const) {
      const mine = order.filter((i) => path[i] === kind);
      expect(mine, `${kind} path in publish order`).toEqual([...mine].sort((a, b) => a - b));
    }
    // Each send.users message is routed after its PubAck, so after every single send acknowledged before it.
    for (const [at, i] of order.entries()) {
      if (path[i] !== "users") continue;
      const earlierSingles = path.flatMap((kind, j) => (kind === "user" && j < i ? [j] : []));
      expect(
        earlierSingles.every((j) => order.indexOf(j) < at),
        `mx-${i} after earlier single sends`,
      ).toBe(true);
    }
    await client.close();
  });
});

describe("headers the mailbox keeps", () => {
  it("RePublish carries the publisher's Nats-Msg-Id and the store time that becomes ts", async () => {
    const s = world.backend.s;
    const live: { msgId: string | undefined; time: string | undefined }[] = [];
    // The operator may watch live copies; a backend may not (docs/security.md).
    const sub = world.operator.nc.subscribe(s.live("hdr"), {
      callback: (_err, msg) => {
        live.push({ msgId: msg.headers?.get(Header.MsgId), time: msg.headers?.get(Header.Timestamp) });
      },
    });
    await world.operator.nc.flush();
    const client = await connectAs("hdr");
    await world.backend.publish(s.sendUser("hdr"), { data: 1 }, "hdr-key");
    const [message] = await client.waitForMessages(1);
    await waitUntil(() => live.length === 1, { timeoutMs: 5_000, message: "live copy" });
    expect(live[0]!.msgId).toBe("hdr-key");
    expect(message!.id).toBe("hdr-key");
    expect(message!.ts).toBe(Date.parse(live[0]!.time!));
    sub.unsubscribe();
    await client.close();
  });
});
