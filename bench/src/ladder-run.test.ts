import { describe, expect, it } from "vitest";
import { perMessage } from "./ladder-run.js";

describe("perMessage", () => {
  it("gives µs per message of the named processes and their sum, leaving the load generator and others out", () => {
    const used = { server0: 0.5, redis: 0.25, clients0: 3, bench: 1, otherProcesses: 9, gone: Number.NaN };
    expect(perMessage(used, ["server0", "redis", "gone"], 25_000)).toEqual({
      server0: 20,
      redis: 10,
      system: 30,
    });
  });
});
