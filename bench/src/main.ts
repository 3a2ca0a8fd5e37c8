// `pnpm bench`: Herald's durable end-to-end throughput and latency with 1,000 connected users, next to the
// ceilings measured in the same run on the same machine (raw JetStream and core NATS, raw ws, Socket.IO with
// its Redis Streams adapter). Writes bench/results/<timestamp>.json, latest.json and latest.svg.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type NatsServer, startNatsServer } from "@herald/testkit";
import { runBaseline } from "./baseline-run.js";
import { startSocketIoServers, startWsServer } from "./baseline-servers.js";
import { chartInput } from "./chart.js";
import { nowUs } from "./clock.js";
import { compressionDocument, renderCompressionChart, withoutPaths } from "./compression-report.js";
import { runCompressionCost } from "./compression-run.js";
import { runHerald, userIds } from "./herald-run.js";
import { renderIdleChart } from "./idle-report.js";
import { runIdle } from "./idle-run.js";
import { coreNatsRate, jetStreamPublishRate, type RateResult } from "./nats-baselines.js";
import { type BenchOptions, BenchOptionsError, natsGoEnv, parseOptions, USAGE } from "./options.js";
import { cpuMeter } from "./procfs.js";
import { type QuietWait, waitForQuiet } from "./quiet.js";
import { type BenchResults, derive, type NatsResults, ok, type Parts, summaryTable } from "./report.js";
import { renderRoutersChart } from "./routers-report.js";
import { runRouters } from "./routers-run.js";
import { renderScaleChart } from "./scale-report.js";
import { runScale } from "./scale-run.js";
import { renderSoakChart } from "./soak-report.js";
import { runSoak } from "./soak-run.js";
import { renderStormChart } from "./storm-report.js";
import { runStormPart } from "./storm-run.js";
import { renderChart } from "./svg.js";
import { runTracingCost } from "./tracing-run.js";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

const quietWaits: Record<string, QuietWait> = {};

/** Runs one part, after waiting (bounded) for other work on the machine to calm down; a failure is recorded as skipped with its reason instead of ending the whole run. */
async function part<T>(
  name: string,
  o: BenchOptions,
  key: Parameters<BenchOptions["skip"]["includes"]>[0],
  run: () => Promise<T>,
) {
  if (o.skip.includes(key)) return { skipped: "--skip" };
  const wait = await waitForQuiet(o.quietWaitSeconds * 1000, 0.5);
  quietWaits[key] = wait;
  if (!wait.quiet) log(`${name}: starting anyway; other work keeps ${wait.busyCores} cores busy`);
  else if (wait.waitedMs > 1_500)
    log(`${name}: waited ${Math.round(wait.waitedMs / 1000)} s for a quiet machine`);
  try {
    return await run();
  } catch (error) {
    log(`${name} failed: ${(error as Error)?.stack ?? String(error)}`);
    return { skipped: `failed: ${(error as Error)?.message ?? String(error)}` };
  }
}

/** CPU µs per message of nats-server and of this process (the publisher) while `run` goes. */
async function withCpu<T extends RateResult>(nats: NatsServer, run: () => Promise<T>) {
  const cpu = await cpuMeter({ "nats-server": nats.pid() });
  const result = await run();
  const used = await cpu();
  const per = (seconds: number | undefined) => Math.round(((seconds ?? Number.NaN) * 1e6) / result.messages);
  return {
    ...result,
    cpuMicrosPerMessage: { "nats-server": per(used["nats-server"]), publisher: per(used.bench) },
  };
}

async function measureNats(nats: NatsServer, o: BenchOptions): Promise<NatsResults> {
  const core = await withCpu(nats, () =>
    coreNatsRate(nats.url, { messages: o.coreMessages, bytes: o.payloadBytes }),
  );
  log(`core NATS: ${core.msgsPerSec} msg/s`);
  const common = { messages: o.rawMessages, window: o.window, bytes: o.payloadBytes };
  const jetStreamPublishNoDedup = await withCpu(nats, () =>
    jetStreamPublishRate(nats.url, { ...common, dedup: false }),
  );
  log(`JetStream publish without msg id: ${jetStreamPublishNoDedup.msgsPerSec} msg/s`);
  const jetStreamPublish = await withCpu(nats, () =>
    jetStreamPublishRate(nats.url, { ...common, dedup: true }),
  );
  log(
    `JetStream publish with msg id: ${jetStreamPublish.msgsPerSec} msg/s ` +
      `(nats-server ${jetStreamPublish.cpuMicrosPerMessage["nats-server"]} µs CPU per message)`,
  );
  const jetStreamPublishPipelined = await withCpu(nats, () =>
    jetStreamPublishRate(nats.url, { ...common, dedup: true, client: "pipelined" }),
  );
  log(`JetStream publish with msg id, pipelined publisher: ${jetStreamPublishPipelined.msgsPerSec} msg/s`);
  return { jetStreamPublish, jetStreamPublishNoDedup, jetStreamPublishPipelined, core };
}

function optionsOrExit(): BenchOptions {
  try {
    return parseOptions(process.argv.slice(2), process.env, benchDir);
  } catch (error) {
    if (error instanceof BenchOptionsError) {
      console.error(`${error.message}\n${USAGE}`);
      process.exit(2);
    }
    throw error;
  }
}

/** Every part the options ask for, in order, on one private nats-server. */
async function runParts(o: BenchOptions, runId: string): Promise<Parts> {
  const users = userIds(o.users);
  // Experiment knobs, Go's defaults when unset (bench/README.md, "nats-server on fewer cores"); every
  // nats-server a part starts inherits them.
  const goEnv = natsGoEnv(o);
  Object.assign(process.env, goEnv);
  // Measured as before NATS permissions existed (issue 13): its raw NATS clients connect without identities.
  // BENCH_NATS_CONFIG adds lines to its config, e.g. `prof_port: 6199` for Go's pprof (read by
  // bench/experiments/nats-pprof.mjs) or `http_port: 8222` for its monitoring endpoints.
  const extraConfig = process.env.BENCH_NATS_CONFIG;
  const nats = await startNatsServer({ auth: false, ...(extraConfig ? { extraConfig } : {}) });
  log(
    `nats-server on ${nats.url} (file storage in ${nats.storeDir}${Object.entries(goEnv)
      .map(([name, value]) => `, ${name}=${value}`)
      .join("")})`,
  );
  try {
    const natsPart = await part("nats", o, "nats", () => measureNats(nats, o));
    const herald = await part("herald", o, "herald", () => runHerald(nats, o, runId, log));
    const tracing = await part("tracing", o, "tracing", () => runTracingCost(nats, o, runId, log));
    const compression = await part("compression", o, "compression", () =>
      runCompressionCost(nats, o, runId, log),
    );
    const ws = await part("ws", o, "ws", async () => runBaseline(await startWsServer(o), users, o, log));
    const socketio = await part("socket.io", o, "sio", async () =>
      runBaseline(await startSocketIoServers(o, users, runId), users, o, log),
    );
    const idle = await part("idle", o, "idle", () => runIdle(nats, o, runId, log));
    const routers = await part("routers", o, "routers", () => runRouters(nats, o, runId, log));
    const scale = await part("scale", o, "scale", () => runScale(nats, o, runId, log));
    const storm = await part("storm", o, "storm", () => runStormPart(nats, o, runId, log));
    const soak = await part("soak", o, "soak", () => runSoak(nats, o, runId, log));
    return { nats: natsPart, herald, tracing, compression, ws, socketio, idle, routers, scale, storm, soak };
  } finally {
    await nats.dispose();
  }
}

const NOTES = [
  "All processes on 127.0.0.1 of this one machine, sharing its cores: nats-server, the four Herald services, the load generator and this process.",
  "Herald throughput: a JetStream publisher (js.publish, window of PubAcks) to <p>.send.user.<u> round-robin over the users, as a closed loop: a message is published only while fewer than `inflight` are published and not yet receipted; ends when a receipt (<p>.receipt.<u>, emitted after the cursor compare-and-set) has arrived for every message. `burst`: the same without the closed loop (a backlog forms in the intake work queue).",
  "Latency: each message carries its send time (CLOCK_MONOTONIC, shared by all processes); receive − send at the client, first deliveries only. Herald's send time is taken just before the JetStream publish of the backend.",
  "raw ws: one server process generating targeted sends itself (no broker, no persistence, no acks). Socket.IO: two servers with @socket.io/redis-streams-adapter (default maxLen), websocket transport only, no compression, clients split between them; the publisher is a process of its own writing each user's room emit to the adapter's stream (the emitter's format), and the ladder also climbs with server 0 emitting itself; delivery is at-most-once.",
  "Ladder: each system is offered increasing rates open loop (--ladder-rates, --ladder-seconds per step); a step passes when every message is delivered (Herald: and acked, by persistence's counter) no later than 500 ms after the step's scheduled end; a failed rate is tried once more, and a rate that fails twice ends the climb.",
  "Clients: raw `ws` sockets in load-generator processes; Herald clients ack every message (one ack frame per macrotask per connection, as @herald/client does).",
];

function resultsOf(
  o: BenchOptions,
  parts: Parts,
  started: Date,
  startUs: number,
  loadBefore: number[],
): BenchResults {
  return {
    version: 1,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationSec: Math.round((nowUs() - startUs) / 1e5) / 10,
    command: withoutPaths(["pnpm bench", ...process.argv.slice(2)].join(" ")),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      totalMemoryMiB: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg().map((l) => Math.round(l * 100) / 100),
      /** Busy cores measured just before each part (other work), and how long the run waited for calm. */
      beforeEachPart: quietWaits,
    },
    options: { ...o, outDir: undefined },
    ...parts,
    ...derive(parts, cpus().length),
    notes: NOTES,
  };
}

/**
 * The run's own JSON, and each part's latest result and chart (only the latest is kept in git): `latest.*` is
 * the full comparison, kept by a run that skipped Herald's part; a part measured alone keeps its own.
 */
function writeResults(outDir: string, results: BenchResults, stamp: string): void {
  mkdirSync(outDir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const write = (name: string, text: string) => writeFileSync(join(outDir, name), text);
  write(`${stamp}.json`, json);
  if (ok(results.herald)) {
    write("latest.json", json);
    write("latest.svg", renderChart(chartInput(results)));
  }
  const compressed = ok(results.compression);
  if (compressed) {
    const doc = compressionDocument(results, compressed);
    write("compression-latest.json", `${JSON.stringify(doc, null, 2)}\n`);
    const subtitle = `${results.options.users} users, ${results.options.messages} messages per round, ${String(results.machine.cpus)} cores, ${results.startedAt}`;
    write("compression-latest.svg", renderCompressionChart(compressed, subtitle));
  }
  const at = results.startedAt;
  const chart = <T>(part: T | undefined, render: (p: T) => string) => (part ? render(part) : undefined);
  const charts: [string, string | undefined][] = [
    ["idle", chart(ok(results.idle), (p) => renderIdleChart(p, at))],
    ["tracing", chart(ok(results.tracing), () => renderChart(chartInput(results)))],
    ["routers", chart(ok(results.routers), (p) => renderRoutersChart(p, at))],
    ["scale", chart(ok(results.scale), (p) => renderScaleChart(p, at))],
    ["storm", chart(ok(results.storm), (p) => renderStormChart(p, at))],
    ["soak", chart(ok(results.soak), (p) => renderSoakChart(p, at))],
  ];
  for (const [name, svg] of charts) {
    if (!svg) continue;
    write(`${name}-latest.json`, json);
    write(`${name}-latest.svg`, svg);
  }
}

async function main(): Promise<void> {
  const o = optionsOrExit();
  const started = new Date();
  const startUs = nowUs();
  const runId = started.getTime().toString(36);
  log(`options: ${JSON.stringify(o)}`);
  // Other work on the machine skews every figure; the load average says how much there was.
  const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
  if ((loadBefore[0] ?? 0) > cpus().length)
    log(`warning: load average ${loadBefore.join(" ")} on ${cpus().length} cores`);
  const parts = await runParts(o, runId);
  const results = resultsOf(o, parts, started, startUs, loadBefore);
  const stamp = started.toISOString().replace(/[:.]/g, "-");
  writeResults(o.outDir, results, stamp);
  console.log(`\n${summaryTable(results)}\n`);
  const latest = ok(results.herald)
    ? ", latest.json and latest.svg"
    : " (Herald's part skipped: latest.* kept)";
  log(`wrote ${join(o.outDir, `${stamp}.json`)}${latest} in ${results.durationSec} s`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
