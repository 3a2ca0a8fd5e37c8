// `node bench/dist/presence-main.js`: the presence benchmark of issue 3. One real presence process, four
// simulated connectors (a worker publishing the connector's own presence reports) tracking 100,000
// connections, then 1,000 connects+disconnects per second while presence.get is queried. Writes
// bench/results/presence-<timestamp>.json, presence-latest.json and presence-latest.svg.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  PRESENCE_TARGETS,
  PRESENCE_USAGE,
  PresenceOptionsError,
  parsePresenceOptions,
  presenceSummary,
  presenceVerdicts,
  renderPresenceChart,
} from "./presence-report.js";
import { runPresenceBench } from "./presence-run.js";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");

async function main(): Promise<void> {
  let options: ReturnType<typeof parsePresenceOptions>;
  try {
    options = parsePresenceOptions(process.argv.slice(2), benchDir);
  } catch (error) {
    if (!(error instanceof PresenceOptionsError)) throw error;
    console.error(`${error.message}\n${PRESENCE_USAGE}`);
    process.exit(2);
  }
  const started = new Date();
  const loadBefore = loadavg();
  const results = await runPresenceBench(options);
  const document = {
    benchmark: "presence",
    startedAt: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      memoryBytes: totalmem(),
      node: process.version,
      loadAverageBefore: loadBefore.map((l) => Math.round(l * 100) / 100),
      loadAverageAfter: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    method: {
      presence:
        "one real presence process (node apps/presence/dist/main.js, production timings except a 1 s sync wait at start) on a private nats-server",
      connectors:
        `${options.connectors} simulated connectors, one worker process each, each on its own NATS connection, ` +
        "publishing through apps/connector's own PresenceReporter (open/close reports, a beat with the digest of " +
        `its connection set every ${options.heartbeatMs} ms, a full list in parts of 1,000 in answer to ` +
        "presence.sync). Real WebSockets cannot reach " +
        "100,000 here: the file descriptor limit is 20,000 per process, and presence sees only these reports.",
      queries: `presence.get {userId} of random tracked users, ${options.queryRate}/s, during the load phase`,
      eventLag:
        "from the publish of an open/close report (worker) to the receipt of its online/offline event (bench " +
        "process), on the shared monotonic clock; each churn user has one connection, so every report is a transition",
      wire:
        "bytes per beat interval sent to presence (report and sync payloads + subjects, all connectors together), " +
        "counted by a subscriber over 2 intervals per phase and divided by the periodic reports seen, at 10,000 " +
        "connections and at the full size, with 0, 10 and 1,000 opens+closes per interval: first this release's " +
        "beats, then the same connectors sending their full list every interval (as before this change, and as " +
        "they do for a presence of the previous release: a sync request without `beats` switches them)",
      memory:
        "presence process heap after a forced full GC (through its inspector) and RSS, empty vs. full, divided " +
        "by the tracked connections",
    },
    options: { ...options, outDir: undefined },
    targets: PRESENCE_TARGETS,
    verdicts: presenceVerdicts(results),
    results,
  };
  mkdirSync(options.outDir, { recursive: true });
  const json = `${JSON.stringify(document, null, 2)}\n`;
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(options.outDir, `presence-${stamp}.json`), json);
  writeFileSync(join(options.outDir, "presence-latest.json"), json);
  const subtitle = `${started.toISOString().slice(0, 16)}Z, ${cpus().length} cores, load ${document.machine.loadAverageBefore[0]}; dashed line = target`;
  writeFileSync(join(options.outDir, "presence-latest.svg"), renderPresenceChart(results, subtitle));
  console.log(presenceSummary(results));
  console.log(`written: ${join(options.outDir, "presence-latest.json")} and presence-latest.svg`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
