import { describe, expect, it } from "vitest";
import { InFlight } from "./in-flight.js";

describe("InFlight", () => {
  it("holds one entry, then many, in the order they were added", () => {
    const sent = new InFlight<number>();
    expect(sent.size).toBe(0);
    expect([...sent.values()]).toEqual([]);
    sent.add("a", 1);
    expect(sent.size).toBe(1);
    expect(sent.get("a")).toBe(1);
    expect(sent.get("b")).toBeUndefined();
    sent.add("b", 2);
    sent.add("c", 3);
    expect(sent.size).toBe(3);
    expect([...sent.ids()]).toEqual(["a", "b", "c"]);
    expect([...sent.values()]).toEqual([1, 2, 3]);
    expect(sent.get("b")).toBe(2);
  });

  it("takes entries out by id, whichever form it is in", () => {
    const sent = new InFlight<string>();
    sent.add("a", "A");
    expect(sent.take("b")).toBeUndefined();
    expect(sent.take("a")).toBe("A");
    expect(sent.take("a")).toBeUndefined();
    expect(sent.size).toBe(0);
    sent.add("x", "X");
    sent.add("y", "Y");
    expect(sent.take("nope")).toBeUndefined();
    expect(sent.take("x")).toBe("X");
    expect([...sent.ids()]).toEqual(["y"]);
    expect(sent.take("y")).toBe("Y");
    expect(sent.size).toBe(0);
    expect([...sent.ids()]).toEqual([]);
    // Empty again, it starts over with one entry held inline and later ones in order.
    sent.add("p", "P");
    sent.add("q", "Q");
    expect([...sent.values()]).toEqual(["P", "Q"]);
  });

  it("replaces the entry of an id added again, without counting it twice", () => {
    const sent = new InFlight<number>();
    sent.add("a", 1);
    sent.add("a", 2);
    expect(sent.size).toBe(1);
    expect(sent.get("a")).toBe(2);
    sent.add("b", 3);
    sent.add("b", 4);
    expect(sent.size).toBe(2);
    expect([...sent.values()]).toEqual([2, 4]);
  });

  it("lets an entry be changed in place while iterating (the resend's `sentAt`)", () => {
    const sent = new InFlight<{ sentAt: number }>();
    sent.add("a", { sentAt: 1 });
    for (const entry of sent.values()) entry.sentAt = 5;
    expect(sent.get("a")?.sentAt).toBe(5);
  });
});
