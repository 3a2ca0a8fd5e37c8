import { describe, expect, it } from "vitest";
import { AckPublisher } from "./ack-publisher.js";

const ack = { id: "m1", seq: 1, prev: 0 };

describe("AckPublisher", () => {
  it("bundles acks, retries a failed write and counts what was stored", async () => {
    const written: unknown[] = [];
    let failures = 1;
    let stored = 0;
    const acks = new AckPublisher({
      publish: async (payload) => {
        if (failures-- > 0) throw new Error("no responders");
        written.push(JSON.parse(new TextDecoder().decode(payload)));
      },
      onStored: (count) => {
        stored += count;
      },
    });
    await Promise.all([acks.publish("u1", "d1", [ack]), acks.publish("u2", "d2", [{ ...ack, id: "m2" }])]);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      batches: [
        { userId: "u1", deviceId: "d1", acks: [ack] },
        { userId: "u2", deviceId: "d2", acks: [{ ...ack, id: "m2" }] },
      ],
    });
    expect(stored).toBe(2);
  });

  it("fails at once once told to stop retrying", async () => {
    const acks = new AckPublisher({
      publish: () => Promise.reject(new Error("nats closed")),
      onStored: () => {},
    });
    acks.stopRetrying();
    const started = Date.now();
    await expect(acks.publish("u1", "d1", [ack])).rejects.toThrow("nats closed");
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
