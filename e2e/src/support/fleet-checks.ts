import { waitUntil } from "@herald/testkit";
import { expect } from "vitest";
import { expectedIds, type Fleet } from "./fleet.js";

/** Every user's app saw `<user>-0 … <user>-(perUser-1)` once each, in that order. */
export function expectEverythingOnceInOrder(f: Fleet, perUser: number) {
  for (const [user, ids] of f.handled)
    expect(ids, orderContext(f, user, perUser)).toEqual(expectedIds(user, perUser));
  expect(f.repeats()).toBe(0);
}

/**
 * The user, and where its first misplaced message is with the mailbox sequence of each neighbour: rising
 * sequences mean the connector or client swapped them, falling ones that they were stored swapped.
 */
export function orderContext(f: Fleet, user: string, perUser: number): string {
  const ids = f.handled.get(user) ?? [];
  const seqs = f.handledSeqs.get(user) ?? [];
  const expected = expectedIds(user, perUser);
  const at = ids.findIndex((id, i) => id !== expected[i]);
  if (at < 0) return user;
  const around = ids
    .slice(Math.max(0, at - 2), at + 3)
    .map((id, k) => `${id}@${seqs[Math.max(0, at - 2) + k]}`)
    .join(", ");
  return `${user}, first misplaced at ${at}: ${around}`;
}

/** Messages the fleet's apps handled so far, repeats included. */
export function handledCount(f: Fleet): number {
  return [...f.handled.values()].reduce((sum, ids) => sum + ids.length, 0);
}

/** Waits until the fleet's apps handled at least `count` messages. */
export async function deliveredAtLeast(f: Fleet, count: number, timeoutMs = 60_000) {
  await waitUntil(() => handledCount(f) >= count, { timeoutMs, message: `${count} messages handled` });
}
