import { describe, expect, it, vi } from "vitest";
import { KeepAlive } from "./keep-alive.js";

function setUp() {
  let now = 0;
  const pinged: string[] = [];
  const held = new KeepAlive<string>({ everyMs: 100, ping: (item) => pinged.push(item), now: () => now });
  return { held, pinged, advance: (ms: number) => (now += ms) };
}

describe("KeepAlive", () => {
  it("pings only what has been held for everyMs, then again everyMs after each ping", () => {
    const { held, pinged, advance } = setUp();
    held.track("a");
    advance(60);
    held.track("b");
    expect(held.sweep()).toBe(0);
    advance(40);
    expect(held.sweep()).toBe(1);
    expect(pinged).toEqual(["a"]);
    advance(60);
    expect(held.sweep()).toBe(1);
    expect(pinged).toEqual(["a", "b"]);
    advance(40);
    held.sweep();
    expect(pinged).toEqual(["a", "b", "a"]);
  });

  it("forgets released items", () => {
    const { held, pinged, advance } = setUp();
    held.track("a");
    held.track("b");
    held.release("a");
    expect(held.size).toBe(1);
    advance(100);
    held.sweep();
    expect(pinged).toEqual(["b"]);
  });

  it("pings on its own timer once started, and not after stop", () => {
    vi.useFakeTimers();
    try {
      const pinged: string[] = [];
      const held = new KeepAlive<string>({ everyMs: 20, ping: (item) => pinged.push(item), now: Date.now });
      held.track("a");
      held.start();
      vi.advanceTimersByTime(45);
      expect(pinged).toEqual(["a", "a"]);
      held.stop();
      vi.advanceTimersByTime(100);
      expect(pinged).toEqual(["a", "a"]);
    } finally {
      vi.useRealTimers();
    }
  });
});
