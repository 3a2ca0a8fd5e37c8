import { describe, expect, it } from "vitest";
import { LaneShare, type SharedLease } from "./lane-share.js";

/** Leases held by this replica, and the replicas it sees. */
function world(lanes: number, held: number[]) {
  const mine = new Set(held);
  const released: number[] = [];
  const leases: SharedLease[] = Array.from({ length: lanes }, (_, i) => ({
    held: () => mine.has(i),
    release: async () => {
      mine.delete(i);
      released.push(i);
    },
  }));
  const replicas = { ready: true, alive: 1, count: () => replicas.alive };
  const share = new LaneShare(replicas, 1_000);
  share.set(leases);
  return { share, replicas, mine, released };
}

describe("LaneShare", () => {
  it("takes lanes up to ⌈lanes ÷ replicas⌉, counting each yes until the next round", async () => {
    const w = world(9, []);
    w.replicas.alive = 2;
    expect(w.share.share()).toBe(5);
    const answers = Array.from({ length: 9 }, () => w.share.mayAcquire());
    expect(answers.filter(Boolean)).toHaveLength(5);
    for (const i of [0, 1, 2, 3, 4]) w.mine.add(i);
    await w.share.round();
    expect(w.share.mayAcquire()).toBe(false);
  });

  it("takes nothing before it has seen the other replicas", () => {
    const w = world(3, []);
    w.replicas.ready = false;
    expect(w.share.mayAcquire()).toBe(false);
  });

  it("gives up one lane, the last held, after two rounds over its share", async () => {
    const w = world(9, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    w.replicas.alive = 3;
    expect(await w.share.round()).toBeUndefined();
    expect(await w.share.round()).toBeDefined();
    expect(w.released).toEqual([8]);
    // Over again only after two more rounds: one lane per two rounds while above the share.
    expect(await w.share.round()).toBeUndefined();
    await w.share.round();
    expect(w.released).toEqual([8, 7]);
  });

  it("keeps its lanes at or below its share, and when replicas leave takes more", async () => {
    const w = world(9, [0, 1, 2]);
    w.replicas.alive = 3;
    await w.share.round();
    await w.share.round();
    expect(w.released).toEqual([]);
    expect(w.share.mayAcquire()).toBe(false);
    w.replicas.alive = 2;
    expect(w.share.mayAcquire()).toBe(true);
  });
});
