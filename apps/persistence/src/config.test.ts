import { ConfigError } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("persistence config", () => {
  it("writes cursors behind receipts by 500 ms unless told otherwise", () => {
    expect(loadConfig({}).PERSISTENCE_CURSOR_DELAY).toBe(500);
    expect(loadConfig({ PERSISTENCE_CURSOR_DELAY: "0" }).PERSISTENCE_CURSOR_DELAY).toBe(0);
  });

  it("refuses a cursor delay a held ack bundle could outlive (more than a quarter of the ack wait)", () => {
    expect(() => loadConfig({ PERSISTENCE_CURSOR_DELAY: "10s" })).toThrow(ConfigError);
    expect(() => loadConfig({ PERSISTENCE_CURSOR_DELAY: "10s", PERSISTENCE_ACK_WAIT: "40s" })).not.toThrow();
    expect(() => loadConfig({ PERSISTENCE_CURSOR_DELAY: "soon" })).toThrow(/PERSISTENCE_CURSOR_DELAY/);
  });
});
