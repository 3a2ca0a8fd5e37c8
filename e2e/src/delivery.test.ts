import type { AckReceipt, CursorReply, UserMessageFrame } from "@herald/protocol";
import { connectClient, signToken, waitUntil } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { scrapeMetric } from "./support/metrics.js";
import { useStack } from "./support/use-stack.js";

const world = useStack();

const tokenFor = (sub: string, did?: string) =>
  signToken({ sub, ...(did ? { did } : {}) }, world.stack.jwtSecret);
const connectAs = async (sub: string, did?: string, autoAck = false) =>
  connectClient(world.stack.wsUrl(await tokenFor(sub, did)), { autoAck });

async function cursorOf(userId: string, deviceId = "default") {
  const reply = await world.backend.request<CursorReply>(world.backend.s.cursorGet, { userId });
  return reply.devices.find((d) => d.deviceId === deviceId);
}

describe("user delivery", () => {
  it("publish → deliver → ack → receipt, as the contract says", async () => {
    const receipts: AckReceipt[] = [];
    const sub = world.backend.nc.subscribe(world.backend.s.receipt("alice"), {
      callback: (_err, msg) => {
        receipts.push(msg.json<AckReceipt>());
      },
    });
    const client = await connectAs("alice", "phone");
    const welcome = client.frames[0];
    expect(welcome).toMatchObject({ type: "welcome", userId: "alice", deviceId: "phone" });

    const ack = await world.backend.toUser("alice", { data: { text: "hi" }, id: "greeting-1" });
    expect(ack.duplicate).toBe(false);
    const [message] = await client.waitForMessages(1);
    expect(message).toMatchObject({ type: "message", id: "greeting-1", data: { text: "hi" } });
    expect(message!.seq).toBeGreaterThan(0);
    expect(typeof message!.ts).toBe("number");

    client.ack(["greeting-1"]);
    await waitUntil(() => receipts.length === 1, { timeoutMs: 10_000, message: "receipt" });
    expect(receipts[0]).toMatchObject({
      type: "acked",
      id: "greeting-1",
      userId: "alice",
      deviceId: "phone",
      seq: message!.seq,
    });
    expect(typeof receipts[0]!.ackedAt).toBe("number");
    await waitUntil(async () => (await cursorOf("alice", "phone"))?.ackedSeq === message!.seq, {
      timeoutMs: 10_000,
    });
    expect(await cursorOf("alice", "phone")).toEqual({
      deviceId: "phone",
      ackedSeq: message!.seq,
      pending: 0,
    });
    sub.unsubscribe();
    await client.close();
  });

  it("times each message from the intake store to the router and from the mailbox to the connector (lag histograms)", async () => {
    const router = world.stack.routers[0]!;
    const connector = world.stack.connectors[0]!;
    const routed = async () =>
      (await scrapeMetric(router, "herald_router_intake_lag_seconds_count")) ?? Number.NaN;
    const received = async () =>
      (await scrapeMetric(connector, "herald_connector_live_lag_seconds_count", 'kind="user"')) ?? 0;
    const client = await connectAs("timed", "phone", true);
    const routedBefore = await routed();
    const receivedBefore = await received();
    // Single-user sends go straight to the mailbox: no router hop; send.users goes through the router.
    for (let i = 0; i < 5; i++) await world.backend.toUser("timed", { data: i });
    for (let i = 5; i < 8; i++) await world.backend.toUsers({ userIds: ["timed"], data: i });
    await client.waitForMessages(8);
    expect((await routed()) - routedBefore).toBe(3);
    expect((await received()) - receivedBefore).toBe(8);
    await client.close();
  });

  it("delivers 10,000 messages to one user in publish order", async () => {
    const client = await connectClient(world.stack.wsUrl(await tokenFor("bulk")), { autoAck: true });
    const total = 10_000;
    await world.backend.pipeline(
      total,
      (i) => ({ subject: world.backend.s.sendUser("bulk"), body: { data: { i }, id: `bulk-${i}` } }),
      64,
    );
    const messages = await client.waitForMessages(total, 90_000);
    const firsts = dedupe(messages);
    expect(firsts.map((m) => (m.data as { i: number }).i)).toEqual(
      Array.from({ length: total }, (_, i) => i),
    );
    expect(isIncreasing(firsts.map((m) => m.seq))).toBe(true);
    await waitUntil(async () => (await cursorOf("bulk"))?.ackedSeq === firsts.at(-1)!.seq, {
      timeoutMs: 30_000,
    });
    await client.close();
  });

  it("sends unacked messages again on reconnect, and acked ones never", async () => {
    const first = await connectAs("carol");
    for (let i = 0; i < 10; i++) await world.backend.toUser("carol", { data: i, id: `c-${i}` });
    const got = await first.waitForMessages(10);
    first.ack(got.slice(0, 5).map((m) => m.id));
    await waitUntil(async () => (await cursorOf("carol"))?.ackedSeq === got[4]!.seq, { timeoutMs: 10_000 });
    await first.close();

    const second = await connectAs("carol");
    const again = await second.waitForMessages(5);
    expect(again.map((m) => m.id)).toEqual(["c-5", "c-6", "c-7", "c-8", "c-9"]);
    second.ack(again.map((m) => m.id));
    await waitUntil(async () => (await cursorOf("carol"))?.pending === 0, { timeoutMs: 10_000 });
    await second.close();

    const third = await connectAs("carol");
    await world.backend.toUser("carol", { data: "after", id: "c-after" });
    const [next] = await third.waitForMessages(1);
    expect(next!.id).toBe("c-after");
    await third.close();
  });

  it("delivers a message published while the user was offline when the device connects", async () => {
    await world.backend.toUser("dave", { data: "while away", id: "d-1" });
    const client = await connectAs("dave");
    const [message] = await client.waitForMessages(1);
    expect(message!.id).toBe("d-1");
    await client.close();
  });

  it("gives each device of a user everything, with its own cursor", async () => {
    const phone = await connectAs("erin", "phone");
    const laptop = await connectAs("erin", "laptop");
    for (let i = 0; i < 50; i++) await world.backend.toUser("erin", { data: i, id: `e-${i}` });
    const onPhone = await phone.waitForMessages(50);
    const onLaptop = await laptop.waitForMessages(50);
    expect(onPhone.map((m) => m.id)).toEqual(onLaptop.map((m) => m.id));
    phone.ack(onPhone.map((m) => m.id));
    await waitUntil(async () => (await cursorOf("erin", "phone"))?.pending === 0, { timeoutMs: 10_000 });
    await phone.close();
    await laptop.close();

    const phoneAgain = await connectAs("erin", "phone");
    const laptopAgain = await connectAs("erin", "laptop");
    expect((await laptopAgain.waitForMessages(50)).map((m) => m.id)).toEqual(onLaptop.map((m) => m.id));
    expect(phoneAgain.messages()).toEqual([]);
    const cursor = await world.backend.request<CursorReply>(world.backend.s.cursorGet, { userId: "erin" });
    expect(cursor.devices.find((d) => d.deviceId === "laptop")).toMatchObject({ ackedSeq: 0, pending: 50 });
    await phoneAgain.close();
    await laptopAgain.close();
  });

  it("delivers the same idempotency key once, whether in the body or the Nats-Msg-Id header", async () => {
    const client = await connectAs("frank", undefined, true);
    await world.backend.toUser("frank", { data: 1, id: "same" });
    await world.backend.toUser("frank", { data: 2, id: "same" });
    await world.backend.toUser("frank", { data: 3 }, "header-key");
    await world.backend.toUser("frank", { data: 4 }, "header-key");
    await world.backend.toUser("frank", { data: "last", id: "marker" });
    const messages = await client.waitForMessages(3);
    await waitUntil(() => client.messages().some((m) => m.id === "marker"), { timeoutMs: 10_000 });
    expect(client.messages().map((m) => m.id)).toEqual(["same", "header-key", "marker"]);
    expect(messages[0]!.data).toBe(1);
    expect(await world.operator.mailboxCount("frank")).toBe(3);
    await client.close();
  });

  it("fans a send.users message out to each listed user once", async () => {
    const a = await connectAs("fan-a", undefined, true);
    const b = await connectAs("fan-b", undefined, true);
    await world.backend.toUsers({ userIds: ["fan-a", "fan-b", "fan-a"], data: "to both", id: "fan-1" });
    expect((await a.waitForMessages(1))[0]!.id).toBe("fan-1");
    expect((await b.waitForMessages(1))[0]!.id).toBe("fan-1");
    expect(await world.operator.mailboxCount("fan-a")).toBe(1);
    await a.close();
    await b.close();
  });

  it("carries user ids outside [A-Za-z0-9_-] through the documented encoding", async () => {
    const client = await connectAs("josé@home", undefined, true);
    await world.backend.toUser("josé@home", { data: "olá", id: "enc-1" });
    expect((await client.waitForMessages(1))[0]).toMatchObject({ id: "enc-1", data: "olá" });
    await client.close();
  });
});

function dedupe(messages: UserMessageFrame[]): UserMessageFrame[] {
  const seen = new Set<string>();
  return messages.filter((m) => {
    if (seen.has(m.id)) return false;
    seen.add(m.id);
    return true;
  });
}

function isIncreasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]!);
}

describe("cursor.get", () => {
  it.each([
    ["not json", "invalid_json"],
    [{ user: "x" }, "invalid_request"],
    [{ userId: "a.b" }, "invalid_user_id"],
  ])("answers %j with an error reply %s", async (body, code) => {
    const reply = await world.backend.request<{ error?: { code: string } }>(world.backend.s.cursorGet, body);
    expect(reply.error?.code).toBe(code);
  });
});
