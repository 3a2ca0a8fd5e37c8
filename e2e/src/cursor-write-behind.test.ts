import type { AckReceipt, CursorReply } from "@herald/protocol";
import { userToken } from "@herald/protocol";
import { connectClient, signToken, waitUntil } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { sumMetric } from "./support/metrics.js";
import { useStack } from "./support/use-stack.js";

/**
 * The cursor write waits `PERSISTENCE_CURSOR_DELAY` behind the receipt; the ack meanwhile lives only in its
 * bundle in the ack stream. A long delay here makes that window wide enough to stop or kill persistence in.
 */
const DELAY_MS = 5_000;
const ACK_WAIT_MS = 20_000;
const world = useStack({
  envFor: {
    persistence: { PERSISTENCE_CURSOR_DELAY: `${DELAY_MS}ms`, PERSISTENCE_ACK_WAIT: `${ACK_WAIT_MS}ms` },
  },
});

async function cursorOf(userId: string) {
  const reply = await world.backend.request<CursorReply>(world.backend.s.cursorGet, { userId });
  return reply.devices.find((d) => d.deviceId === "phone");
}

/** Delivers one message to `userId`'s phone, acks it and waits for the receipt; the cursor is not yet written. */
async function ackedButNotWritten(userId: string) {
  const receipts: AckReceipt[] = [];
  const sub = world.backend.nc.subscribe(world.backend.s.receipt(userToken(userId)), {
    callback: (_err, msg) => {
      receipts.push(msg.json<AckReceipt>());
    },
  });
  const client = await connectClient(
    world.stack.wsUrl(await signToken({ sub: userId, did: "phone" }, world.stack.jwtSecret)),
  );
  await world.backend.toUser(userId, { data: "hi", id: `${userId}-1` });
  const [message] = await client.waitForMessages(1);
  const acked = Date.now();
  client.ack([`${userId}-1`]);
  await waitUntil(() => receipts.length > 0, { timeoutMs: 10_000, message: "the receipt" });
  expect(receipts[0]).toMatchObject({ type: "acked", id: `${userId}-1`, seq: message!.seq });
  // Read well inside the delay: the receipt did not wait for the cursor.
  const before = await cursorOf(userId);
  if (Date.now() - acked < DELAY_MS - 1_000) expect(before).toMatchObject({ ackedSeq: 0, pending: 1 });
  await client.close();
  return { seq: message!.seq, receipts, sub };
}

describe("cursor write-behind", () => {
  it("writes the cursor after the delay: cursor.get then shows the ack", async () => {
    const { seq, sub } = await ackedButNotWritten("wb-steady");
    await waitUntil(async () => (await cursorOf("wb-steady"))?.ackedSeq === seq, {
      timeoutMs: DELAY_MS + 10_000,
      message: "the cursor written",
    });
    expect(await cursorOf("wb-steady")).toEqual({ deviceId: "phone", ackedSeq: seq, pending: 0 });
    sub.unsubscribe();
  });

  it("writes the waiting cursors when persistence is stopped (SIGTERM), before it exits", async () => {
    const { seq, sub } = await ackedButNotWritten("wb-stop");
    const persistence = world.stack.persistence[0]!;
    await persistence.stop();
    await persistence.restart();
    await persistence.waitReady(30_000);
    // Well before the bundle's ack_wait: the stopping replica wrote it, nobody had to redeliver it.
    await waitUntil(async () => (await cursorOf("wb-stop"))?.ackedSeq === seq, {
      timeoutMs: ACK_WAIT_MS / 2,
      message: "the cursor written at shutdown",
    });
    sub.unsubscribe();
  });

  it("loses no ack when persistence is killed (kill -9) before the write: the bundle comes back", async () => {
    const { seq, receipts, sub } = await ackedButNotWritten("wb-kill");
    const persistence = world.stack.persistence[0]!;
    await persistence.kill();
    await persistence.restart();
    await persistence.waitReady(30_000);
    await waitUntil(async () => (await cursorOf("wb-kill"))?.ackedSeq === seq, {
      timeoutMs: ACK_WAIT_MS + DELAY_MS + 20_000,
      message: "the cursor written from the redelivered bundle",
    });
    // Receipts come at least once: the redelivered bundle sends its receipt again.
    await waitUntil(() => receipts.length >= 2, { timeoutMs: 10_000, message: "the repeated receipt" });
    expect(new Set(receipts.map((r) => `${r.type}:${r.id}:${r.seq}`))).toEqual(
      new Set([`acked:wb-kill-1:${seq}`]),
    );
    sub.unsubscribe();
  });

  it("keeps an erase that came between the ack and its cursor write: the cursor does not come back", async () => {
    const persistence = world.stack.persistence[0]!;
    const applied = () => sumMetric(persistence, "herald_persistence_acks_applied_total");
    const before = await applied();
    const { sub } = await ackedButNotWritten("wb-erase");
    // What `herald erase` does to the device's cursor.
    const kv = await new Kvm(world.operator.nc).open(world.operator.s.buckets.cursors);
    await kv.purge(`${userToken("wb-erase")}.${userToken("phone")}`);
    await waitUntil(async () => (await applied()) > before, {
      timeoutMs: DELAY_MS + 10_000,
      message: "the ack's cursor write to have run",
    });
    const reply = await world.backend.request<CursorReply>(world.backend.s.cursorGet, { userId: "wb-erase" });
    expect(reply.devices).toEqual([]);
    sub.unsubscribe();
  });
});
