import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { repoRoot } from "./processes.js";
import type { ServiceName } from "./service.js";

let values: Record<string, { nodeOptions?: unknown; mallocArenaMax?: unknown } | undefined> | undefined;

function chartValues(name: ServiceName) {
  values ??= parse(readFileSync(join(repoRoot, "charts", "herald", "values.yaml"), "utf8")) as typeof values;
  return values?.[name];
}

/**
 * The process settings the chart's env gives a service beyond Herald's own variables, so processes started here
 * run as a default install runs them: `NODE_OPTIONS` (`<service>.nodeOptions` in `charts/herald/values.yaml`)
 * and `MALLOC_ARENA_MAX` (`<service>.mallocArenaMax`), each only where the chart sets it.
 */
export function chartProcessEnv(name: ServiceName): Record<string, string> {
  const env: Record<string, string> = {};
  const nodeOptions = chartValues(name)?.nodeOptions;
  if (typeof nodeOptions === "string" && nodeOptions.trim() !== "") env.NODE_OPTIONS = nodeOptions;
  const arenas = chartValues(name)?.mallocArenaMax;
  if ((typeof arenas === "number" || typeof arenas === "string") && String(arenas).trim() !== "")
    env.MALLOC_ARENA_MAX = String(arenas);
  return env;
}
