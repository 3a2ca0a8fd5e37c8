import { describe, expect, it } from "vitest";
import { BenchOptionsError, parseOptions } from "./options.js";

describe("parseOptions", () => {
  it("has defaults that match the issue: 1,000 users, 5,000 msg/s", () => {
    const o = parseOptions([], {}, "/b");
    expect(o).toMatchObject({
      quick: false,
      users: 1_000,
      rate: 5_000,
      messages: 50_000,
      outDir: "/b/results",
    });
  });

  it("lowers the sizes with --quick but keeps what is given", () => {
    const o = parseOptions(["--quick", "--messages", "3000", "--users=200"], {}, "/b");
    expect(o).toMatchObject({ quick: true, messages: 3_000, users: 200, latencySeconds: 3 });
  });

  it("sizes the scale and storm parts: 100,000 connections and 15,000 clients, smaller with --quick", () => {
    expect(parseOptions([], {}, "/b")).toMatchObject({ scaleConnections: 100_000, stormClients: 15_000 });
    const quick = parseOptions(
      ["--quick", "--storm-clients", "500"],
      { BENCH_SCALE_CONNECTIONS: "7000" },
      "/b",
    );
    expect(quick).toMatchObject({ scaleConnections: 7_000, stormClients: 500, stormRate: 200 });
  });

  it("runs every part but the long ones by default; --only names the parts, long ones included", () => {
    expect(parseOptions([], {}, "/b").skip).toEqual(["scale", "storm", "soak"]);
    expect(parseOptions(["--skip", "ws"], {}, "/b").skip).toEqual(["ws", "scale", "storm", "soak"]);
    const only = parseOptions(["--only", "storm,idle"], {}, "/b").skip;
    expect(only).not.toContain("storm");
    expect(only).not.toContain("idle");
    expect(only).toContain("herald");
    expect(only).toContain("soak");
    expect(parseOptions([], { BENCH_ONLY: "soak" }, "/b").skip).not.toContain("soak");
    expect(() => parseOptions(["--only", "kafka"], {}, "/b")).toThrow(/--only/);
    expect(() => parseOptions(["--only", "ws", "--skip", "sio"], {}, "/b")).toThrow(/do not go together/);
  });

  it("reads BENCH_* variables, flags first", () => {
    const o = parseOptions(
      ["--rate", "100"],
      { BENCH_RATE: "7", BENCH_CLIENT_PROCS: "2", BENCH_QUICK: "1" },
      "/b",
    );
    expect(o).toMatchObject({ rate: 100, clientProcs: 2, quick: true });
  });

  it("refuses unknown flags, bad numbers and unknown systems", () => {
    expect(() => parseOptions(["--fast"], {}, "/b")).toThrow(BenchOptionsError);
    expect(() => parseOptions(["--users", "0"], {}, "/b")).toThrow(/positive integer/);
    expect(() => parseOptions(["--users"], {}, "/b")).toThrow(/needs a value/);
    expect(() => parseOptions(["--skip", "kafka"], {}, "/b")).toThrow(/--skip/);
    expect(parseOptions(["--skip", "ws,sio"], {}, "/b").skip).toEqual([
      "ws",
      "sio",
      "scale",
      "storm",
      "soak",
    ]);
    expect(() => parseOptions(["--latency-client", "go"], {}, "/b")).toThrow(/--latency-client/);
  });

  it("takes the latency sweep's rates, none with --quick unless told", () => {
    expect(parseOptions([], {}, "/b").latencyRates).toEqual([2_000, 3_000, 4_000]);
    expect(parseOptions(["--quick"], {}, "/b").latencyRates).toEqual([]);
    expect(parseOptions(["--latency-rates", "1000, 2500"], {}, "/b").latencyRates).toEqual([1_000, 2_500]);
    expect(parseOptions(["--latency-rates", "none"], {}, "/b").latencyRates).toEqual([]);
    expect(parseOptions([], { BENCH_LATENCY_RATES: "3000" }, "/b").latencyRates).toEqual([3_000]);
    expect(() => parseOptions(["--latency-rates", "1000,fast"], {}, "/b")).toThrow(/--latency-rates/);
  });

  it("takes the latency run's publisher, pipelined unless told", () => {
    expect(parseOptions([], {}, "/b").latencyClient).toBe("pipelined");
    expect(parseOptions(["--latency-client", "js"], {}, "/b").latencyClient).toBe("js");
    expect(parseOptions([], { BENCH_LATENCY_CLIENT: "js" }, "/b").latencyClient).toBe("js");
  });

  it("leaves nats-server's GOGC alone unless given", () => {
    expect(parseOptions([], {}, "/b").natsGogc).toBeUndefined();
    expect(parseOptions(["--nats-gogc", "400"], {}, "/b").natsGogc).toBe(400);
    expect(() => parseOptions(["--nats-gogc", "off"], {}, "/b")).toThrow(/positive integer/);
  });

  it("leaves nats-server's GOMAXPROCS alone unless given", () => {
    expect(parseOptions([], {}, "/b").natsGomaxprocs).toBeUndefined();
    expect(parseOptions(["--nats-gomaxprocs", "1"], {}, "/b").natsGomaxprocs).toBe(1);
    expect(parseOptions([], { BENCH_NATS_GOMAXPROCS: "2" }, "/b").natsGomaxprocs).toBe(2);
    expect(() => parseOptions(["--nats-gomaxprocs", "0"], {}, "/b")).toThrow(/positive integer/);
  });

  it("takes the ladder's rates (ascending) and step length, shorter with --quick", () => {
    const full = parseOptions([], {}, "/b");
    expect(full.ladderRates.slice(0, 3)).toEqual([2_500, 5_000, 10_000]);
    expect(full.ladderSeconds).toBe(5);
    expect(parseOptions(["--quick"], {}, "/b")).toMatchObject({ ladderSeconds: 2 });
    expect(parseOptions(["--quick"], {}, "/b").ladderRates.length).toBeLessThan(full.ladderRates.length);
    expect(parseOptions(["--ladder-rates", "5000,10000", "--ladder-seconds", "3"], {}, "/b")).toMatchObject({
      ladderRates: [5_000, 10_000],
      ladderSeconds: 3,
    });
    expect(parseOptions([], { BENCH_LADDER_RATES: "none" }, "/b").ladderRates).toEqual([]);
    expect(() => parseOptions(["--ladder-rates", "10000,5000"], {}, "/b")).toThrow(/ascending/);
    expect(() => parseOptions(["--ladder-rates", "5000,5000"], {}, "/b")).toThrow(/ascending/);
    expect(() => parseOptions(["--ladder-rates", "5k"], {}, "/b")).toThrow(/--ladder-rates/);
  });
});
