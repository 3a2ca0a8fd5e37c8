import type { PresenceEvent } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { EventGate } from "./event-gate.js";

function setup() {
  const online = new Set<string>();
  const published: string[] = [];
  const gate = new EventGate(
    (e: PresenceEvent) => published.push(`${e.userId}:${e.type}`),
    (u) => online.has(u),
    () => 42,
  );
  const flip = (u: string, on: boolean) => {
    if (on) online.add(u);
    else online.delete(u);
    gate.transition(u, on);
  };
  return { gate, published, flip };
}

describe("EventGate", () => {
  it("publishes transitions only while enabled", () => {
    const { gate, published, flip } = setup();
    flip("a", true);
    expect(published).toEqual([]);
    gate.setEnabled(true);
    expect(published).toEqual(["a:online"]);
    flip("b", true);
    flip("a", false);
    expect(published).toEqual(["a:online", "b:online", "a:offline"]);
  });

  it("forgets differences the emitter announced, and publishes only the net ones on take-over", () => {
    const { gate, published, flip } = setup();
    flip("a", true);
    gate.observe({ type: "online", userId: "a", at: 1 });
    flip("b", true);
    flip("b", false); // a blip nobody announced: nothing to publish
    flip("c", true);
    gate.observe({ type: "online", userId: "c", at: 1 }); // event may come before or after our own view
    gate.observe({ type: "offline", userId: "c", at: 2 });
    flip("c", false);
    flip("d", true); // the emitter died before announcing this one
    expect(gate.pendingCount).toBe(1);
    gate.setEnabled(true);
    expect(published).toEqual(["d:online"]);
  });

  it("takes the registry as announced after a baseline reset", () => {
    const { gate, published, flip } = setup();
    flip("a", true);
    gate.resetBaseline();
    gate.setEnabled(true);
    expect(published).toEqual([]);
  });
});
