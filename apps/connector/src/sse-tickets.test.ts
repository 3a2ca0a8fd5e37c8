import { describe, expect, it } from "vitest";
import type { Identity } from "./auth.js";
import { SseTickets } from "./sse-tickets.js";

const HOUR = 3_600_000;
const identity = (expiresAt: number): Identity => ({
  userId: "alice",
  deviceId: "phone",
  channels: [],
  expiresAt,
  channel: undefined,
});

function clock(start = 1_000_000) {
  const c = { now: start, tick: (ms: number) => (c.now += ms) };
  return c;
}

describe("SseTickets", () => {
  it("redeems a ticket once, for the identity it was issued to", () => {
    const c = clock();
    const tickets = new SseTickets({ ttlMs: 30_000, maxOutstanding: 10, now: () => c.now });
    const issued = tickets.issue(identity(c.now + HOUR))!;
    expect(issued.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued.expiresInMs).toBe(30_000);
    expect(tickets.redeem(issued.ticket)).toMatchObject({ userId: "alice", deviceId: "phone" });
    expect(tickets.redeem(issued.ticket)).toBeUndefined();
    expect(tickets.size).toBe(0);
  });

  it("refuses unknown tickets and tickets past their TTL", () => {
    const c = clock();
    const tickets = new SseTickets({ ttlMs: 30_000, maxOutstanding: 10, now: () => c.now });
    expect(tickets.redeem("not-a-ticket")).toBeUndefined();
    const issued = tickets.issue(identity(c.now + HOUR))!;
    c.tick(30_000);
    expect(tickets.redeem(issued.ticket)).toBeUndefined();
  });

  it("never lets a ticket outlive the token it stands for", () => {
    const c = clock();
    const tickets = new SseTickets({ ttlMs: 30_000, maxOutstanding: 10, now: () => c.now });
    const issued = tickets.issue(identity(c.now + 5_000))!;
    expect(issued.expiresInMs).toBe(5_000);
    c.tick(5_000);
    expect(tickets.redeem(issued.ticket)).toBeUndefined();
  });

  it("issues distinct tickets, at most maxOutstanding at once; expired ones free their place", () => {
    const c = clock();
    const tickets = new SseTickets({ ttlMs: 1_000, maxOutstanding: 3, now: () => c.now });
    const issued = [1, 2, 3].map(() => tickets.issue(identity(c.now + HOUR))!.ticket);
    expect(new Set(issued).size).toBe(3);
    expect(tickets.issue(identity(c.now + HOUR))).toBeUndefined();
    tickets.redeem(issued[0]!);
    expect(tickets.issue(identity(c.now + HOUR))).toBeDefined();
    c.tick(1_000);
    expect(tickets.issue(identity(c.now + HOUR))).toBeDefined();
    expect(tickets.size).toBe(1);
  });
});
