// `node bench/dist/fanout-main.js`: the channel fan-out benchmark of issue 4. One channel message to 10,000
// subscribers on one connector (real Herald processes on a private nats-server), against a raw `ws` server
// broadcasting one pre-serialised Buffer to the same clients. Writes bench/results/fanout-<timestamp>.json,
// fanout-latest.json and fanout-latest.svg.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startNatsServer } from "@herald/testkit";
import {
  FANOUT_USAGE,
  FanoutOptionsError,
  type FanoutResults,
  fanoutSummary,
  fanoutVerdict,
  parseFanoutOptions,
  renderFanoutChart,
} from "./fanout-report.js";
import { FANOUT_CONNECTOR_ENV, runFanout } from "./fanout-run.js";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const log = (line: string) => console.log(`[fanout ${new Date().toISOString().slice(11, 19)}] ${line}`);
/** The checkout's commit, and whether apps/ had uncommitted changes (the services run from their dist). */
function revision(): { commit: string; appsDirty: boolean } | null {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: benchDir, encoding: "utf8" }).trim();
    return {
      commit: git("rev-parse", "HEAD"),
      appsDirty: git("status", "--porcelain", "--", "../apps") !== "",
    };
  } catch {
    return null;
  }
}

const loads = () => loadavg().map((l) => Math.round(l * 100) / 100);

/** Past this the run is stuck somewhere: exit (the exit hooks SIGKILL every child) rather than hang. */
const WATCHDOG_MS = 8 * 60_000;

async function main(): Promise<void> {
  setTimeout(() => {
    console.error(`fan-out benchmark still running after ${WATCHDOG_MS / 60_000} minutes; aborting`);
    process.exit(1);
  }, WATCHDOG_MS).unref();
  let options: ReturnType<typeof parseFanoutOptions>;
  try {
    options = parseFanoutOptions(process.argv.slice(2), benchDir);
  } catch (error) {
    if (!(error instanceof FanoutOptionsError)) throw error;
    console.error(`${error.message}\n${FANOUT_USAGE}`);
    process.exit(2);
  }
  const started = new Date();
  const loadBefore = loads();
  const runId = started.getTime().toString(36);
  // Measured as before NATS permissions existed (issue 13): its raw NATS clients connect without identities.
  const nats = await startNatsServer({ auth: false });
  let results: FanoutResults;
  try {
    results = await runFanout(nats, options, runId, log);
  } finally {
    await nats.dispose();
  }
  const document = {
    benchmark: "channel-fanout",
    startedAt: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    revision: revision(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      memoryBytes: totalmem(),
      node: process.version,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loads(),
    },
    method: {
      herald:
        "1 persistence, 1 router, 1 presence, 1 connector (node apps/*/dist/main.js) on a private nats-server; " +
        `the backend publishes {"data":{"ph","n","t"},"id"} to herald.send.channel.fan-1 with a JetStream publish ` +
        '(Nats-Msg-Id); every client connected with a token whose channels claim is ["fan-*"] and subscribed to fan-1',
      raw:
        "a plain ws WebSocketServer in its own process; per message one JSON frame shaped like Herald's channel " +
        "message frame, serialised once into a Buffer and sent to every client; setImmediate between messages",
      clients:
        "the same load-generator processes for both parts; each client counts first deliveries per message, " +
        "repeats and skipped messages, and times publish → receive on the shared monotonic clock (data.t, ms)",
      saturation:
        "`messages` published back to back (Herald: all PubAcks in flight at once); deliveries/s = deliveries ÷ " +
        "(last delivery − first publish); both sides stay connected and their `rounds` rounds alternate " +
        "(raw, Herald, Herald, raw, ...), headline = median over round pairs of Herald ÷ raw (best and median also reported); server CPU per delivery from /proc (user/system)",
      latency:
        "`rate` msg/s for `latencySeconds`, each to every subscriber; percentiles over every delivery. The rate " +
        "is kept well under what one connector fans out on this 2-core machine (10 msg/s × 10,000 = 100k " +
        "deliveries/s is above it, so latency would measure a growing queue)",
      connectorEnv: FANOUT_CONNECTOR_ENV,
      connectorV8Flags: process.env.BENCH_FANOUT_CONNECTOR_V8_FLAGS ?? null,
      profile:
        "one extra saturation round per part with the V8 sampling profiler (200 µs) on the fan-out process " +
        "(connector via --inspect, raw server via node:inspector); self time by function and by area",
    },
    options: { ...options, outDir: undefined },
    verdict: fanoutVerdict(results),
    results,
  };
  mkdirSync(options.outDir, { recursive: true });
  const json = `${JSON.stringify(document, null, 2)}\n`;
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(options.outDir, `fanout-${stamp}.json`), json);
  writeFileSync(join(options.outDir, "fanout-latest.json"), json);
  const subtitle = `${started.toISOString().slice(0, 16)}Z, ${cpus().length} cores, load ${loadBefore[0]} → ${document.machine.loadAverageAfter[0]}; dashed line = 0.7 × raw median`;
  writeFileSync(join(options.outDir, "fanout-latest.svg"), renderFanoutChart(results, options, subtitle));
  console.log(fanoutSummary(results));
  console.log(`written: ${join(options.outDir, "fanout-latest.json")} and fanout-latest.svg`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
