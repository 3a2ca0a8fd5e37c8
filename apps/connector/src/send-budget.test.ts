import { describe, expect, it } from "vitest";
import { type BufferedSocket, SendBudget } from "./send-budget.js";

function socket(userId: string, bytes = 0) {
  const s = {
    userId,
    bytes,
    dropped: false,
    bufferedBytes: () => s.bytes,
    dropAsSlow: () => {
      s.dropped = true;
    },
  };
  return s satisfies BufferedSocket;
}

describe("SendBudget", () => {
  it("drops the user's fullest socket once the user's sockets together hold more than the per-user budget", () => {
    const budget = new SendBudget({ perUser: 100, total: 1_000 });
    const [a, b, c] = [socket("u"), socket("u"), socket("v")];
    for (const s of [a, b, c]) budget.add(s);
    a.bytes = 60;
    budget.update(a);
    c.bytes = 90;
    budget.update(c);
    b.bytes = 30;
    budget.update(b);
    expect([a.dropped, b.dropped, c.dropped]).toEqual([false, false, false]);
    b.bytes = 50;
    budget.update(b);
    expect([a.dropped, b.dropped, c.dropped]).toEqual([true, false, false]);
    expect(budget.bufferedBytes).toBe(140);
  });

  it("reads the exact figures before dropping: buffers that drained since their last send do not count", () => {
    const budget = new SendBudget({ perUser: 100, total: 1_000 });
    const [a, b] = [socket("u"), socket("u")];
    budget.add(a);
    budget.add(b);
    a.bytes = 90;
    budget.update(a);
    a.bytes = 0; // drained, nothing sent to it since
    b.bytes = 50;
    budget.update(b);
    expect([a.dropped, b.dropped]).toEqual([false, false]);
    expect(budget.bufferedBytes).toBe(50);
  });

  it("drops the fullest sockets across users once the connector's total budget is exceeded", () => {
    const budget = new SendBudget({ perUser: 1_000, total: 100 });
    const sockets = [socket("a", 0), socket("b", 0), socket("c", 0)];
    for (const s of sockets) budget.add(s);
    for (const [i, bytes] of [40, 45, 30].entries()) {
      sockets[i]!.bytes = bytes;
      budget.update(sockets[i]!);
    }
    expect(sockets.map((s) => s.dropped)).toEqual([false, true, false]);
    expect(budget.bufferedBytes).toBe(70);
  });

  it("forgets removed sockets", () => {
    const budget = new SendBudget({ perUser: 100, total: 100 });
    const a = socket("u", 80);
    budget.add(a);
    expect(budget.bufferedBytes).toBe(80);
    budget.remove(a);
    budget.remove(a);
    expect(budget.bufferedBytes).toBe(0);
    const b = socket("u", 90);
    budget.add(b);
    budget.update(b);
    expect(b.dropped).toBe(false);
  });

  it("reads a socket once per send when its buffer did not change, and still drops when it grows", () => {
    const budget = new SendBudget({ perUser: 100, total: 1_000 });
    const a = socket("u");
    let reads = 0;
    const read = a.bufferedBytes;
    a.bufferedBytes = () => {
      reads++;
      return read();
    };
    budget.add(a);
    reads = 0;
    for (let i = 0; i < 5; i++) budget.update(a);
    expect(reads).toBe(5);
    expect(budget.bufferedBytes).toBe(0);
    a.bytes = 120;
    budget.update(a);
    expect(a.dropped).toBe(true);
    expect(budget.bufferedBytes).toBe(0);
  });
});
