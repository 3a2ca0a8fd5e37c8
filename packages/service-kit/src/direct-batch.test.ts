import { useNats } from "@herald/testkit/vitest";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { readDirectBatch } from "./direct-batch.js";

let jsm: JetStreamManager;

useNats(async (nc) => {
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "BATCH", subjects: ["b.>"], allow_direct: true });
  const js = jetstream(nc);
  // Sequences 1..10: odd ones on b.a, even ones on b.b.
  for (let i = 1; i <= 10; i++) await js.publish(i % 2 ? "b.a" : "b.b", `m${i}`);
});

const read = (seq: number, subject: string, batch: number, maxBytes = 1 << 20) =>
  readDirectBatch(jsm, "BATCH", { seq, subject, batch, maxBytes, timeoutMs: 5_000 });
const seqs = (batch: { messages: { seq: number }[] }) => batch.messages.map((m) => m.seq);

describe("readDirectBatch", () => {
  it("reads one subject's messages from a sequence on, and says whether more follow", async () => {
    const first = await read(1, "b.a", 3);
    expect(seqs(first)).toEqual([1, 3, 5]);
    expect(first.more).toBe(true);
    expect(new TextDecoder().decode(first.messages[0]?.data)).toBe("m1");
    const rest = await read(6, "b.a", 10);
    expect(seqs(rest)).toEqual([7, 9]);
    expect(rest.more).toBe(false);
  });

  it("is empty, with nothing more, past the subject's last message or on an unknown subject", async () => {
    await expect(read(10, "b.a", 5)).resolves.toEqual({ messages: [], more: false });
    await expect(read(1, "b.none", 5)).resolves.toEqual({ messages: [], more: false });
  });

  it("stops near max_bytes and says more follow", async () => {
    const small = await read(1, "b.b", 5, 1);
    expect(seqs(small)).toEqual([2]);
    expect(small.more).toBe(true);
  });

  it("rejects a read of a stream that does not exist instead of hanging", async () => {
    await expect(
      readDirectBatch(jsm, "NOPE", { seq: 1, subject: "b.a", batch: 1, maxBytes: 100, timeoutMs: 2_000 }),
    ).rejects.toThrow();
  });
});
