import { ConfigError } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("has defaults for every router setting", () => {
    const config = loadConfig({});
    expect(config.ROUTER_PREFETCH).toBe(256);
    expect(config.ROUTER_ACK_WAIT).toBe(2_000);
    expect(config.ROUTER_LEASE_TTL).toBe(1_500);
    expect(config.ROUTER_REPLICA_ID).toMatch(/\S/);
    expect(config.ROUTER_MAX_INFLIGHT).toBe(256);
    expect(config.ROUTER_MAX_ACK_PENDING).toBe(1_024);
    expect(config.HERALD_MAX_MESSAGE_BYTES).toBe(64 * 1024);
    expect(config.HERALD_PREFIX).toBe("herald");
  });

  it("reads durations and numbers", () => {
    const config = loadConfig({
      ROUTER_PREFETCH: "8",
      ROUTER_ACK_WAIT: "2s",
      ROUTER_MAX_INFLIGHT: "16",
      ROUTER_MAX_ACK_PENDING: "100",
      HERALD_MAX_MESSAGE_BYTES: "1048576",
      HERALD_PREFIX: "acme.push",
    });
    expect(config).toMatchObject({
      ROUTER_PREFETCH: 8,
      ROUTER_ACK_WAIT: 2_000,
      ROUTER_MAX_INFLIGHT: 16,
      ROUTER_MAX_ACK_PENDING: 100,
      HERALD_MAX_MESSAGE_BYTES: 1_048_576,
      HERALD_PREFIX: "acme.push",
    });
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ ROUTER_PREFETCH: "" }).ROUTER_PREFETCH).toBe(256);
  });

  it("reports every invalid variable at once, by name", () => {
    const env = {
      ROUTER_PREFETCH: "lots",
      ROUTER_ACK_WAIT: "soon",
      ROUTER_MAX_INFLIGHT: "0",
      ROUTER_MAX_ACK_PENDING: "-3",
      HERALD_MAX_MESSAGE_BYTES: "1.5",
    };
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of Object.keys(env)) expect(problems).toContain(name);
    expect((error as ConfigError).code).toBe("invalid_config");
  });

  it("rejects an ack wait under a second", () => {
    expect(() => loadConfig({ ROUTER_ACK_WAIT: "500ms" })).toThrow(/ROUTER_ACK_WAIT must be at least 1s/);
  });

  it("rejects a bad prefix", () => {
    expect(() => loadConfig({ HERALD_PREFIX: "a.*" })).toThrow(ConfigError);
  });
});
