import { describe, expect, it } from "vitest";
import { FanoutOptionsError, parseFanoutOptions } from "./fanout-report.js";

describe("parseFanoutOptions", () => {
  it("defaults to 10,000 clients in 4 processes, with the profile round", () => {
    const o = parseFanoutOptions([], "/b");
    expect(o).toMatchObject({
      clients: 10_000,
      clientProcs: 4,
      messages: 50,
      profile: true,
      outDir: "/b/results",
    });
  });

  it("takes flags and refuses unknown or bad ones", () => {
    const o = parseFanoutOptions(["--clients", "2000", "--source-addresses", "5", "--no-profile"], "/b");
    expect(o).toMatchObject({ clients: 2000, sourceAddresses: 5, profile: false });
    expect(() => parseFanoutOptions(["--bogus", "1"], "/b")).toThrow(FanoutOptionsError);
    expect(() => parseFanoutOptions(["--rate", "-1"], "/b")).toThrow(FanoutOptionsError);
    expect(() => parseFanoutOptions(["--rate"], "/b")).toThrow(FanoutOptionsError);
  });
});
