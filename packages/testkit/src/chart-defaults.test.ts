import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartProcessEnv } from "./chart-defaults.js";
import { repoRoot } from "./processes.js";

const values = parse(readFileSync(join(repoRoot, "charts", "herald", "values.yaml"), "utf8")) as {
  connector: { nodeOptions: string; mallocArenaMax: number | string };
};

describe("the chart's process settings", () => {
  it("gives the connector what values.yaml sets for it", () => {
    expect(chartProcessEnv("connector")).toEqual({
      NODE_OPTIONS: values.connector.nodeOptions,
      MALLOC_ARENA_MAX: String(values.connector.mallocArenaMax),
    });
  });

  it("gives the other services nothing where the chart sets nothing", () => {
    for (const name of ["router", "presence", "persistence"] as const)
      expect(chartProcessEnv(name)).toEqual({});
  });
});
