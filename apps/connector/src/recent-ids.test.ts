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
