import { REPLAY_PACING, subjects } from "@herald/protocol";
import { useNats } from "@herald/testkit/vitest";
import type { Msg } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
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
