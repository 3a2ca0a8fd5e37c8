import type { AckBatch } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { AckBundler, type AckReceipt } from "./ack-bundler.js";

const batch = (userId: string, n: number): string =>
  JSON.stringify({
    userId,
    deviceId: "d",
    acks: Array.from({ length: n }, (_, i) => ({ id: `${userId}-${i}`, seq: i + 1, prev: i })),
    at: 0,
  } satisfies AckBatch);

/** A receipt that remembers what it heard. */
function receipt(): AckReceipt & { heard: Promise<string> } {
  let hear: (what: string) => void = () => undefined;
  const heard = new Promise<string>((resolve) => (hear = resolve));
  return { heard, stored: () => hear("stored"), failed: (err) => hear(`failed: ${(err as Error).message}`) };
}

describe("AckBundler", () => {
  it("writes the acks of many devices gathered in the delay as one bundle", async () => {
    const written: { users: string[]; acks: number }[] = [];
    const bundler = new AckBundler({
      publish: async (batches, acks) => {
        written.push({ users: batches.map((b) => (JSON.parse(b) as AckBatch).userId), acks });
      },
      delayMs: 5,
      maxAcks: 100,
    });
    const receipts = [receipt(), receipt(), receipt()];
    bundler.add(batch("a", 1), 1, receipts[0]);
    bundler.add(batch("b", 2), 2, receipts[1]);
    bundler.add(batch("c", 1), 1, receipts[2]);
    expect(await Promise.all(receipts.map((r) => r.heard))).toEqual(["stored", "stored", "stored"]);
    expect(written).toEqual([{ users: ["a", "b", "c"], acks: 4 }]);
  });

  it("splits at maxAcks and tells the batches of a failed write only", async () => {
    let calls = 0;
    const bundler = new AckBundler({
      publish: async () => {
        calls++;
        if (calls === 1) throw new Error("down");
      },
      delayMs: 50,
      maxAcks: 3,
    });
    const first = receipt();
    const second = receipt();
    bundler.add(batch("a", 3), 3, first);
    bundler.add(batch("b", 1), 1, second);
    expect(await first.heard).toBe("failed: down");
    expect(await second.heard).toBe("stored");
    expect(calls).toBe(2);
  });

  it("flush writes what is pending at once, and rejects when a write failed", async () => {
    const written: string[][] = [];
    const bundler = new AckBundler({
      publish: async (batches) => {
        written.push(batches);
        if (batches.length === 2) throw new Error("down");
      },
      delayMs: 60_000,
      maxAcks: 100,
    });
    bundler.add(batch("a", 1), 1);
    await bundler.flush();
    bundler.add(batch("b", 1), 1);
    bundler.add(batch("c", 1), 1);
    await expect(bundler.flush()).rejects.toThrow("down");
    expect(written.map((w) => w.length)).toEqual([1, 2]);
  });
});
