import { REPLAY_PACING, subjects } from "@herald/protocol";
import { createLogger } from "@herald/service-kit";
import { useNats } from "@herald/testkit/vitest";
import type { Msg } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { GaplessFeed } from "./gapless-feed.js";
import type { Delivery } from "./live-feeds.js";
import { PersistenceClient } from "./persistence-client.js";

const s = subjects("pc");

const nats = useNats();

describe("PersistenceClient", () => {
  it("has at most REPLAY_PACING.inFlight replay requests out; the rest wait at the connector", async () => {
    const held: Msg[] = [];
    const sub = nats.nc.subscribe(s.replay, {
      callback: (_err, msg) => {
        held.push(msg);
      },
    });
    const client = new PersistenceClient(nats.nc, s);
    const total = REPLAY_PACING.inFlight * 3;
    const pages = Array.from({ length: total }, (_, i) => client.replay(`u${i}`, "d", undefined, 10));
    await expect.poll(() => held.length, { timeout: 5_000 }).toBe(REPLAY_PACING.inFlight);
    expect(client.waiting).toBe(total - REPLAY_PACING.inFlight);
    // Each answer lets one waiting request out, until all are answered.
    let answered = 0;
    while (answered < total) {
      await expect.poll(() => held.length, { timeout: 5_000 }).toBeGreaterThan(0);
      held.shift()?.respond(JSON.stringify({ messages: [], scannedTo: 0, done: true }));
      answered++;
      expect(held.length + client.waiting + answered).toBeLessThanOrEqual(total);
    }
    await expect(Promise.all(pages)).resolves.toHaveLength(total);
    expect(client.waiting).toBe(0);
    sub.unsubscribe();
  });
});

describe("PersistenceClient retries", () => {
  it("a feed waiting out a long back-off retries as soon as another replay is answered again", async () => {
    const client = new PersistenceClient(nats.nc, s);
    let up = false;
    let asked = 0;
    const sub = nats.nc.subscribe(s.replay, {
      callback: (_err, msg) => {
        asked++;
        if (up) msg.respond(JSON.stringify({ messages: [], scannedTo: 0, done: true }));
        else msg.respond(JSON.stringify({ code: "internal", message: "not yet" }));
      },
    });
    await nats.nc.flush();
    const logger = createLogger("test", "silent");
    // Down: the feed fails until its back-off is seconds long.
    const feed = new GaplessFeed<Delivery>({
      replay: async (after, limit) => {
        const reply = await client.replay("u1", "d1", after, limit);
        return { items: [], scannedTo: reply.scannedTo, done: reply.done };
      },
      deliver: () => undefined,
      room: () => 100,
      pageSize: 10,
      logger,
      retries: client.retries,
    });
    feed.start(undefined);
    await expect.poll(() => asked, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
    await expect.poll(() => client.retries.sleeping, { timeout: 5_000 }).toBe(1);
    const before = asked;
    // Back: another request's answer wakes the sleeping feed, which asks again long before its back-off ends.
    up = true;
    await client.replay("u2", "d2", undefined, 10);
    await expect.poll(() => asked, { timeout: 1_000 }).toBe(before + 2);
    expect(client.retries.sleeping).toBe(0);
    feed.close();
    sub.unsubscribe();
  });
});
