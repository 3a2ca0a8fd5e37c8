// Summarises a V8 `.cpuprofile` (self time per function and per code area) so a benchmark result can say
// where a process spends its time without opening DevTools.

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number };
export type CpuProfile = { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] };

export type ProfileEntry = { name: string; selfMs: number; percent: number };
export type ProfileSummary = {
  /** Sampled time, ms, idle included. */
  totalMs: number;
  idleMs: number;
  /** Busy time by area: the service's own code, ws, NATS client, Node internals, GC, ... */
  areas: ProfileEntry[];
  /** The functions with the most self time (percent of busy time). */
  top: ProfileEntry[];
};

/** Where a function's code lives, for grouping. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === "(garbage collector)") return "garbage collector";
  if (functionName === "(program)" || functionName === "(root)") return "native / program";
  if (functionName === "(idle)") return "idle";
  if (url.includes("/node_modules/") || url.includes("/.pnpm/")) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url);
    return match?.[1] ?? "node_modules";
  }
  if (url.startsWith("node:") || (url === "" && functionName !== "")) return "node internals";
  const app = /\/(apps|packages)\/([^/]+)\//.exec(url);
  if (app) return `${app[1]}/${app[2]}`;
  return url.replace(/^.*\/(bench|e2e|scripts)\//, "$1/") || "other";
}

const round = (value: number) => Math.round(value * 10) / 10;

/**
 * Self time per function and per area, from the profile's samples and time deltas.
 *
 * @example
 * const summary = summarizeProfile(JSON.parse(readFileSync("x.cpuprofile", "utf8")), 15);
 */
export function summarizeProfile(profile: CpuProfile, topN = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i: it is charged to sample i's node.
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] ?? -1;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, deltas[i] ?? 0));
  }
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const area = areaOf(node.callFrame);
    if (area === "idle") {
      idle += us;
      continue;
    }
    const { functionName, url, lineNumber } = node.callFrame;
    // Paths from the repository (or node_modules) on, never the machine's.
    const file = url.replace(/^.*\/node_modules\//, "").replace(/^.*\/(apps|packages|bench)\//, "$1/");
    const key = `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busy = total - idle;
  const entries = (map: Map<string, number>, limit: number): ProfileEntry[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({
        name,
        selfMs: round(us / 1000),
        percent: busy > 0 ? round((us / busy) * 100) : 0,
      }));
  return {
    totalMs: round(total / 1000),
    idleMs: round(idle / 1000),
    areas: entries(areas, 20),
    top: entries(functions, topN),
  };
}
