import { readFile } from "node:fs/promises";

/** Raised when /proc has no usable entry for a process (gone, or not Linux). */
export class ProcfsError extends Error {
  override name = "ProcfsError";
  readonly code = "bench_procfs";
}

/** VmRSS of a process in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match?.[1]) throw new ProcfsError(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** User + system CPU seconds a process has used so far (clock ticks of 1/100 s, as Linux reports them). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new ProcfsError(`bad stat for pid ${pid}`);
  return (utime + stime) / 100;
}

/** Busy CPU seconds of the whole machine (all cores) so far, from /proc/stat. */
export async function machineBusySeconds(): Promise<number> {
  const stat = await readFile("/proc/stat", "utf8");
  const fields = (stat.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  const busy = fields
    .slice(0, 8)
    .reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + (value || 0)), 0);
  return busy / 100;
}

/**
 * Samples the CPU time of named processes, then returns what each used since, in seconds (2 decimals).
 *
 * @example
 * const done = await cpuMeter({ nats: natsPid, connector: connectorPid });
 * // ... work ...
 * const used = await done(); // { nats: 1.23, connector: 0.8, self: 0.5 }
 */
export async function cpuMeter(
  pids: Record<string, number | undefined>,
): Promise<() => Promise<Record<string, number>>> {
  const entries = Object.entries(pids).filter((entry): entry is [string, number] => entry[1] !== undefined);
  const before = await Promise.all(entries.map(([, pid]) => cpuSeconds(pid).catch(() => Number.NaN)));
  const selfBefore = process.cpuUsage();
  const machineBefore = await machineBusySeconds();
  return async () => {
    const after = await Promise.all(entries.map(([, pid]) => cpuSeconds(pid).catch(() => Number.NaN)));
    const self = process.cpuUsage(selfBefore);
    const machine = (await machineBusySeconds()) - machineBefore;
    const used: Record<string, number> = {};
    let ours = 0;
    entries.forEach(([name], i) => {
      const seconds = (after[i] ?? Number.NaN) - (before[i] ?? Number.NaN);
      used[name] = Math.round(seconds * 100) / 100;
      if (Number.isFinite(seconds)) ours += seconds;
    });
    const bench = (self.user + self.system) / 1e6;
    used.bench = Math.round(bench * 100) / 100;
    // Whatever else ran on the machine meanwhile (other people's tests, the kernel's network work for all of
    // us): the figures are only comparable between runs where this stays small.
    used.otherProcesses = Math.round(Math.max(0, machine - ours - bench) * 100) / 100;
    return used;
  };
}

/**
 * Cores kept busy on average: the seconds of a `cpuMeter` reading (unreadable ones left out) over the wall time.
 *
 * @example
 * busyCores({ nats: 1.5, connector: 2, bench: 0.5 }, 4) // 1
 */
export function busyCores(used: Record<string, number>, wallSeconds: number): number {
  if (wallSeconds <= 0) return 0;
  const busy = Object.values(used).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return Math.round((busy / wallSeconds) * 100) / 100;
}

/**
 * Herald's own series from a Prometheus `/metrics` page, keyed by the series as written (name plus labels):
 * the services' counters and gauges and the event-loop lag p99, not the generic process/runtime series or
 * histogram buckets.
 *
 * @example
 * parseHeraldMetrics('herald_router_retries_total 3\n# HELP x\nother 1') // { herald_router_retries_total: 3 }
 */
export function parseHeraldMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("herald_") || line.includes("_bucket{")) continue;
    const generic = line.startsWith("herald_nodejs_") || line.startsWith("herald_process_");
    if (generic && !line.startsWith("herald_nodejs_eventloop_lag_p99_seconds")) continue;
    const space = line.lastIndexOf(" ");
    const value = Number(line.slice(space + 1));
    if (space > 0 && Number.isFinite(value)) out[line.slice(0, space)] = value;
  }
  return out;
}

/** A service's /metrics page; empty when it cannot be read. */
export async function fetchMetricsText(adminUrl: string): Promise<string> {
  try {
    const response = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return await response.text();
  } catch {
    return "";
  }
}

/** Fetches and parses `parseHeraldMetrics`; an empty record when the page cannot be read. */
export async function scrapeHeraldMetrics(adminUrl: string): Promise<Record<string, number>> {
  return parseHeraldMetrics(await fetchMetricsText(adminUrl));
}
