import { describe, expect, it } from "vitest";
import { RecentIds } from "./recent-ids.js";

describe("RecentIds", () => {
  it("keeps at most `capacity` ids, forgetting the oldest first", () => {
    const recent = new RecentIds(3, 60_000);
    for (const id of ["a", "b", "c", "d"]) recent.add(id, 0);
    expect(["a", "b", "c", "d"].map((id) => recent.has(id))).toEqual([false, true, true, true]);
    expect(recent.size).toBe(3);
  });

  it("forgets ids older than the ttl and holds nothing once all are gone", () => {
    const recent = new RecentIds(100, 1_000);
    recent.add("a", 0);
    recent.add("b", 500);
    recent.prune(1_000);
    expect([recent.has("a"), recent.has("b")]).toEqual([false, true]);
    recent.prune(1_500);
    expect(recent.size).toBe(0);
    recent.add("c", 2_000);
    expect([recent.has("b"), recent.has("c")]).toEqual([false, true]);
  });

  it("an id added twice counts once and keeps its first time", () => {
    const recent = new RecentIds(10, 1_000);
    recent.add("a", 0);
    recent.add("a", 900);
    expect(recent.size).toBe(1);
    recent.prune(1_000);
    expect(recent.has("a")).toBe(false);
  });

  it("tells apart ids of one length and prefix, and finds the empty id", () => {
    const recent = new RecentIds(10, 1_000);
    for (const id of ["run-1-17", "run-2-27", ""]) recent.addNew(id, 0);
    expect(["run-1-17", "run-2-27", "run-3-17", "run-1-1", "", "x"].map((id) => recent.has(id))).toEqual([
      true,
      true,
      false,
      false,
      true,
      false,
    ]);
  });

  it("stays correct across many adds and compactions", () => {
    const recent = new RecentIds(50, 100);
    for (let i = 0; i < 5_000; i++) recent.add(`m${i}`, i);
    expect(recent.size).toBe(50);
    expect(recent.has("m4950")).toBe(true);
    expect(recent.has("m4949")).toBe(false);
    recent.prune(4_999 + 100 - 10);
    expect(recent.size).toBe(10);
    expect(recent.has("m4990")).toBe(true);
  });
});

describe("RecentIds past the scan limit", () => {
  it("finds the same ids with a Set as with a scan, as it grows past 32 and shrinks back", () => {
    const recent = new RecentIds(1_000, 100);
    for (let i = 0; i < 200; i++) recent.add(`m${i}`, i);
    expect(recent.size).toBe(100);
    expect([recent.has("m99"), recent.has("m100"), recent.has("m199"), recent.has("")]).toEqual([
      false,
      true,
      true,
      false,
    ]);
    // Down to 10 entries: the Set is let go, the scan must still find them and only them.
    recent.prune(289);
    expect(recent.size).toBe(10);
    expect([recent.has("m189"), recent.has("m190"), recent.has("m199"), recent.has("")]).toEqual([
      false,
      true,
      true,
      false,
    ]);
    recent.add("late", 290);
    expect([recent.has("late"), recent.has("m190"), recent.has("m191")]).toEqual([true, false, true]);
  });

  it("wraps around its ring without losing order", () => {
    const recent = new RecentIds(8, 1_000);
    for (let i = 0; i < 20; i++) recent.add(`w${i}`, i * 10);
    expect(recent.size).toBe(8);
    expect(Array.from({ length: 20 }, (_, i) => recent.has(`w${i}`))).toEqual(
      Array.from({ length: 20 }, (_, i) => i >= 12),
    );
    recent.prune(120 + 1_000 + 35);
    expect(recent.size).toBe(4);
    expect([recent.has("w15"), recent.has("w16")]).toEqual([false, true]);
  });
});
