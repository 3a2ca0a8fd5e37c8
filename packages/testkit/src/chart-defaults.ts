import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { repoRoot } from "./processes.js";
import type { ServiceName } from "./service.js";

let values: Record<string, { nodeOptions?: unknown } | undefined> | undefined;

/**
 * The `NODE_OPTIONS` the Helm chart gives a service (`<service>.nodeOptions` in `charts/herald/values.yaml`), so
 * processes started here run as a default install runs them; undefined when the chart sets none.
 */
export function chartNodeOptions(name: ServiceName): string | undefined {
  values ??= parse(readFileSync(join(repoRoot, "charts", "herald", "values.yaml"), "utf8")) as typeof values;
  const options = values?.[name]?.nodeOptions;
  return typeof options === "string" && options.trim() !== "" ? options : undefined;
}
