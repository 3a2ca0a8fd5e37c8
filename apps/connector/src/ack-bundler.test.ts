import type { AckBatch } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { AckBundler } from "./ack-bundler.js";

const batch = (userId: string, n: number): AckBatch => ({
  userId,
  deviceId: "d",
  acks: Array.from({ length: n }, (_, i) => ({ id: `${userId}-${i}`, seq: i + 1, prev: i })),
  at: 0,
});

describe("AckBundler", () => {
  it("writes the acks of many devices gathered in the delay as one bundle", async () => {
    const written: AckBatch[][] = [];
    const bundler = new AckBundler({ publish: async (b) => void written.push(b), delayMs: 5, maxAcks: 100 });
    await Promise.all([bundler.add(batch("a", 1)), bundler.add(batch("b", 2)), bundler.add(batch("c", 1))]);
    expect(written.map((b) => b.map((x) => x.userId))).toEqual([["a", "b", "c"]]);
  });

  it("splits at maxAcks and rejects the callers of a failed write only", async () => {
    let calls = 0;
    const bundler = new AckBundler({
      publish: async () => {
        calls++;
        if (calls === 1) throw new Error("down");
      },
      delayMs: 50,
      maxAcks: 3,
    });
    const first = bundler.add(batch("a", 3));
    const second = bundler.add(batch("b", 1));
    await expect(first).rejects.toThrow("down");
    await expect(second).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});
