import { describe, expect, it } from "vitest";
import { z } from "zod";
import { byteSize, ConfigError, parseEnv } from "./config.js";

const schema = z.object({ SIZE: byteSize("2GiB") });

describe("byteSize", () => {
  it.each([
    [undefined, 2 * 2 ** 30],
    ["65536", 65_536],
    ["512KiB", 512 * 1024],
    ["64 MiB", 64 * 2 ** 20],
    ["1GB", 1e9],
  ])("reads %j as %d bytes", (value, bytes) => {
    expect(parseEnv(schema, { SIZE: value }).SIZE).toBe(bytes);
  });

  it.each(["0", "-1", "1.5GiB", "lots", "12 parsecs", "99999999999TiB"])("refuses %j", (value) => {
    expect(() => parseEnv(schema, { SIZE: value })).toThrow(ConfigError);
  });
});
