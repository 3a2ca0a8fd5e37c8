import type { AckedMessage } from "@herald/protocol";
import { waitUntil } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { type CursorGroup, CursorWriter, type CursorWriterOptions } from "./cursor-writer.js";

const ack = (seq: number): AckedMessage => ({ id: `m${seq}`, seq, prev: seq - 1 });

/** A writer on a clock the test moves, recording every write and its outcome. */
function rig(overrides: Partial<CursorWriterOptions<string>> = {}) {
  let now = 1_000;
  const writes: CursorGroup<string>[] = [];
  const outcomes: { device: string; ok: boolean; bundles: string[] }[] = [];
  const errors: unknown[] = [];
  const writer = new CursorWriter<string>({
    delayMs: 100,
    roundMs: 20,
    concurrency: 4,
    write: async (group) => {
      writes.push(group);
      return true;
    },
    written: (group, ok) => outcomes.push({ device: group.deviceId, ok, bundles: [...group.bundles] }),
    onError: (err) => errors.push(err),
    now: () => now,
    ...overrides,
  });
  return {
    writer,
    writes,
    outcomes,
    errors,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("CursorWriter", () => {
  it("merges a device's acks of one delay into one write and keeps the ones not yet ripe", async () => {
    const r = rig();
    r.writer.add("u1", "phone", [ack(1)], "b1");
    r.advance(40);
    r.writer.add("u2", "tab", [ack(7)], "b1");
    r.writer.add("u1", "phone", [ack(2), ack(3)], "b2");
    r.advance(60);
    await r.writer.writeRipe();
    expect(r.writes.map((g) => [g.deviceId, g.acks.map((a) => a.seq)])).toEqual([["phone", [1, 2, 3]]]);
    expect(r.outcomes).toEqual([{ device: "phone", ok: true, bundles: ["b1", "b2"] }]);
    expect(r.writer.size).toBe(1);

    r.advance(40);
    await r.writer.writeRipe();
    expect(r.writes.map((g) => g.deviceId)).toEqual(["phone", "tab"]);
    expect(r.writer.size).toBe(0);
    r.writer.add("u1", "phone", [ack(4)], "b3");
    await r.writer.flush();
  });

  it("writes everything on flush, whatever its age", async () => {
    const r = rig({ delayMs: 60_000 });
    r.writer.add("u1", "phone", [ack(1)], "b1");
    r.writer.add("u2", "phone", [ack(1)], "b1");
    await r.writer.flush();
    expect(r.outcomes.map((o) => o.device)).toEqual(["phone", "phone"]);
    expect(r.writer.size).toBe(0);
  });

  it("reports a failed or throwing write as not written, and goes on with the others", async () => {
    const r = rig({
      write: async (group) => {
        if (group.userId === "boom") throw new Error("store down");
        return group.userId !== "fail";
      },
    });
    for (const user of ["fail", "boom", "fine"]) r.writer.add(user, "d", [ack(1)], user);
    await r.writer.flush();
    expect(r.outcomes).toEqual([
      { device: "d", ok: false, bundles: ["fail"] },
      { device: "d", ok: false, bundles: ["boom"] },
      { device: "d", ok: true, bundles: ["fine"] },
    ]);
    expect(r.errors).toHaveLength(1);
  });

  it("writes on its own timer once the delay has passed", async () => {
    const written: string[] = [];
    const writer = new CursorWriter<string>({
      delayMs: 5,
      roundMs: 1,
      concurrency: 2,
      write: async () => true,
      written: (group) => written.push(group.userId),
      onError: () => {},
    });
    writer.add("u1", "phone", [ack(1)], "b1");
    writer.add("u2", "phone", [ack(1)], "b1");
    await waitUntil(() => written.length === 2, { timeoutMs: 5_000, message: "both cursors written" });
    writer.add("u3", "phone", [ack(1)], "b2");
    await waitUntil(() => written.length === 3, { timeoutMs: 5_000, message: "a later ack written" });
    expect(written).toEqual(["u1", "u2", "u3"]);
    await writer.flush();
  });
});
