import { ackBundleSchema } from "@herald/protocol";
import { createLogger } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { AckPublisher } from "./ack-publisher.js";

const ack = { id: "m1", seq: 1, prev: 0 };
const logger = createLogger("test", "silent");

describe("AckPublisher", () => {
  it("bundles acks into one valid AckBundle, retries a failed write and counts what was stored", async () => {
    const written: unknown[] = [];
    let failures = 1;
    let stored = 0;
    const acks = new AckPublisher({
      publish: async (payload) => {
        if (failures-- > 0) throw new Error("no responders");
        written.push(JSON.parse(payload));
      },
      onStored: (count) => {
        stored += count;
      },
      logger,
    });
    const heard: string[] = [];
    acks.publish("u1", "d1", [ack], {
      stored: () => heard.push("u1"),
      failed: () => heard.push("u1 failed"),
    });
    acks.publish("u2", "d2", [
      { ...ack, id: "m2" },
      { ...ack, id: "m3", seq: 2, prev: 1 },
    ]);
    await acks.flush();
    expect(written).toHaveLength(1);
    expect(ackBundleSchema.parse(written[0])).toMatchObject({
      batches: [
        { userId: "u1", deviceId: "d1", acks: [ack] },
        {
          userId: "u2",
          deviceId: "d2",
          acks: [
            { ...ack, id: "m2" },
            { id: "m3", seq: 2, prev: 1 },
          ],
        },
      ],
    });
    expect(stored).toBe(3);
    expect(heard).toEqual(["u1"]);
  });

  it("fails at once once told to stop retrying, and tells the receipt", async () => {
    const acks = new AckPublisher({
      publish: () => Promise.reject(new Error("nats closed")),
      onStored: () => {},
      logger,
    });
    acks.stopRetrying();
    const heard: unknown[] = [];
    acks.publish("u1", "d1", [ack], { stored: () => heard.push("stored"), failed: (err) => heard.push(err) });
    const started = Date.now();
    await expect(acks.flush()).rejects.toThrow("nats closed");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(heard).toEqual([new Error("nats closed")]);
  });
});
