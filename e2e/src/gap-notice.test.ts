import { type GapEvent, HeraldClient } from "@herald/client";
import type { ExpiredReceipt, GapFrame, Receipt } from "@herald/protocol";
import { userToken } from "@herald/protocol";
import { connectClient, signToken, waitUntil } from "@herald/testkit";
import type { Subscription } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Backend } from "./support/backend.js";
import { scrapeMetric } from "./support/metrics.js";
import { useStack } from "./support/use-stack.js";

/** Every receipt of one user, as they come. */
function watchReceipts(backend: Backend, userId: string): { receipts: Receipt[]; sub: Subscription } {
  const receipts: Receipt[] = [];
  const sub = backend.nc.subscribe(backend.s.receipt(userToken(userId)), {
    callback: (_err, msg) => {
      receipts.push(msg.json<Receipt>());
    },
  });
  return { receipts, sub };
}

const expired = (receipts: Receipt[]) => receipts.filter((r): r is ExpiredReceipt => r.type === "expired");

describe("a mailbox at HERALD_MAX_BACKLOG", () => {
  const CAP = 100;
  const world = useStack({ envFor: { persistence: { HERALD_MAX_BACKLOG: String(CAP) } } });

  it("refuses what is past the cap, so the backend is told of every one, and delivers the rest", async () => {
    const { backend, operator, stack } = world;
    let accepted = 0;
    const refusals: string[] = [];
    for (let i = 0; i < 150; i++) {
      try {
        await backend.toUser("busy", { data: { i }, id: `b-${i}` });
        accepted++;
      } catch (err) {
        refusals.push((err as Error).message);
      }
    }
    expect(accepted).toBe(CAP);
    expect(refusals).toHaveLength(50);
    for (const message of refusals) expect(message).toMatch(/maximum messages per subject exceeded/i);
    expect(await operator.mailboxCount("busy")).toBe(CAP);

    // Nothing was dropped to make room: the device gets the first hundred, in order.
    const client = await connectClient(stack.wsUrl(await signToken({ sub: "busy" }, stack.jwtSecret)), {
      autoAck: true,
    });
    const messages = await client.waitForMessages(CAP, 20_000);
    expect(messages.map((m) => m.id)).toEqual(Array.from({ length: CAP }, (_, i) => `b-${i}`));
    await client.close();
  });

  it("dead-letters a send.users copy it refuses as mailbox_full, with an expired receipt and a count", async () => {
    const { backend, operator, stack } = world;
    for (let i = 0; i < CAP; i++) await backend.toUser("crowded", { data: { i } });
    const { receipts, sub } = watchReceipts(backend, "crowded");
    try {
      await backend.toUsers({ userIds: ["crowded", "roomy"], data: "both", id: "fan-1" });
      const roomy = await connectClient(stack.wsUrl(await signToken({ sub: "roomy" }, stack.jwtSecret)));
      expect((await roomy.waitForMessages(1))[0]).toMatchObject({ id: "fan-1", data: "both" });
      await roomy.close();

      const letter = await waitUntil(
        async () => (await operator.deadLetters()).find((l) => l.reason === "mailbox_full"),
        { timeoutMs: 10_000, message: "a mailbox_full dead letter" },
      );
      expect(letter.originalSubject).toBe(backend.s.sendUser("crowded"));
      expect(JSON.parse(new TextDecoder().decode(letter.data))).toMatchObject({ id: "fan-1", data: "both" });
      await waitUntil(() => expired(receipts).length > 0, {
        timeoutMs: 10_000,
        message: "an expired receipt",
      });
      expect(expired(receipts)).toEqual([
        { type: "expired", reason: "mailbox_full", id: "fan-1", userId: "crowded", at: expect.any(Number) },
      ]);
      expect(await scrapeMetric(stack.routers[0]!, "herald_router_mailbox_full_total")).toBe(1);
      expect(await operator.mailboxCount("crowded")).toBe(CAP);
    } finally {
      sub.unsubscribe();
    }
  });
});

describe("retention removing messages a device has not acked", () => {
  const RETENTION_MS = 3_000;
  const world = useStack({
    envFor: { persistence: { HERALD_RETENTION: `${RETENTION_MS}ms`, HERALD_DEDUP_WINDOW: "1s" } },
  });

  it("tells the reconnecting device (a gap frame, the SDK's gap event), the publisher and the metric", async () => {
    const { backend, operator, stack } = world;
    const token = () => signToken({ sub: "away", did: "phone" }, stack.jwtSecret);
    const first = await connectClient(stack.wsUrl(await token()), { autoAck: true });
    await backend.toUser("away", { data: "seen", id: "seen" });
    const [seen] = await first.waitForMessages(1);
    await waitUntil(
      async () => {
        const reply = await backend.request<{ devices: { deviceId: string; ackedSeq: number }[] }>(
          backend.s.cursorGet,
          { userId: "away" },
        );
        return reply.devices.find((d) => d.deviceId === "phone")?.ackedSeq === seen!.seq;
      },
      { timeoutMs: 10_000, message: "the ack on the cursor" },
    );
    await first.close();

    // Published while the device is away, and gone before it comes back.
    await backend.toUser("away", { data: "lost", id: "lost-1" });
    await backend.toUser("away", { data: "lost", id: "lost-2" });
    await waitUntil(async () => (await operator.mailboxCount("away")) === 0, {
      timeoutMs: RETENTION_MS * 5,
      message: "retention to remove the user's messages",
    });
    const after = await backend.toUser("away", { data: "kept", id: "kept" });
    const { receipts, sub } = watchReceipts(backend, "away");

    const events: (GapEvent | string)[] = [];
    const client = new HeraldClient({ url: stack.wsUrl(), token, WebSocket: WebSocket as never });
    client.on("error", () => {});
    client.on("gap", (gap) => {
      events.push(gap);
    });
    client.on("message", (message) => {
      events.push(message.id);
    });
    try {
      await client.connect();
      await waitUntil(() => events.includes("kept"), { timeoutMs: 10_000, message: "the kept message" });
      expect(events).toEqual([{ after: seen!.seq, before: after.seq, reason: "retention" }, "kept"]);
      await waitUntil(() => expired(receipts).length > 0, {
        timeoutMs: 10_000,
        message: "an expired receipt",
      });
      expect(expired(receipts)).toEqual([
        {
          type: "expired",
          reason: "retention",
          userId: "away",
          deviceId: "phone",
          after: seen!.seq,
          before: after.seq,
          at: expect.any(Number),
        },
      ]);
      expect(await scrapeMetric(stack.persistence[0]!, "herald_persistence_gaps_total")).toBe(1);
    } finally {
      await client.close();
      sub.unsubscribe();
    }

    // Told once: the next connection of that device starts after the gap.
    const again = await connectClient(stack.wsUrl(await token()), { autoAck: true });
    await again.waitFor((f) => f.type === "welcome");
    await backend.toUser("away", { data: "next", id: "next" });
    await again.waitForMessages(1);
    expect(again.frames.filter((f): f is GapFrame => f.type === "gap")).toEqual([]);
    await again.close();

    // A device first seen after the removal lost nothing.
    const tablet = await connectClient(
      stack.wsUrl(await signToken({ sub: "away", did: "tablet" }, stack.jwtSecret)),
    );
    await tablet.waitForMessages(1);
    expect(tablet.frames.some((f) => f.type === "gap")).toBe(false);
    await tablet.close();
    expect(await scrapeMetric(stack.persistence[0]!, "herald_persistence_gaps_total")).toBe(1);
  });
});
