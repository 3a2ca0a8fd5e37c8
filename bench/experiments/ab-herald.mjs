#!/usr/bin/env node
// Interleaved A/B rounds of Herald's bench part for two checkouts (each built), so a swing of other work on a
// shared machine lands on both. Prints per round: sustained msg/s and CPU µs per message, durable writes per
// message, p50/p99 at the latency rate, and CPU µs per message at that rate (per process and in all).
//   node bench/experiments/ab-herald.mjs <dirA> <dirB> [rounds=2] [-- extra bench flags]
// Each round: `node bench/dist/main.js --quick --only herald --latency-seconds 10`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const sep = process.argv.indexOf("--");
const args = sep < 0 ? process.argv.slice(2) : process.argv.slice(2, sep);
const extra = sep < 0 ? [] : process.argv.slice(sep + 1);
const [a, b, roundsArg] = args;
if (!a || !b) throw new Error("usage: ab-herald.mjs <dirA> <dirB> [rounds] [-- bench flags]");
const rounds = Number(roundsArg ?? 2);
const flags = ["--quick", "--only", "herald", "--latency-seconds", "10"];
flags.push("--quiet-wait-seconds", "5", ...extra);

const services = ["nats-server", "connector", "persistence", "router", "presence"];
const rows = [];
for (let r = 0; r < rounds; r++) {
  for (const [label, dir] of r % 2 === 0
    ? [
        ["A", a],
        ["B", b],
      ]
    : [
        ["B", b],
        ["A", a],
      ]) {
    const out = mkdtempSync(join(tmpdir(), "ab-herald-"));
    const log = openSync(join(out, "log"), "w");
    try {
      execFileSync(process.execPath, ["bench/dist/main.js", ...flags, "--out", out], {
        cwd: dir,
        stdio: ["ignore", log, log],
      });
    } catch {}
    const result = join(out, "latest.json");
    const h = existsSync(result) ? JSON.parse(readFileSync(result, "utf8")).herald : undefined;
    if (!h?.latency || !h.throughput) {
      console.log(`${label} round ${r}: no result (${h?.skipped ?? "no JSON"}); see ${out}/log`);
      continue;
    }
    const cpu = h.latency.cpuMicrosPerMessage;
    const t = h.throughput;
    const sum = (c) => services.reduce((s, k) => s + (c[k] ?? 0), 0);
    const row = {
      round: r,
      side: label,
      load: h.loadAverage ? JSON.stringify(h.loadAverage) : "",
      sustained: t.msgsPerSec,
      sustainedCpu: sum(t.cpuMicrosPerMessage),
      writes: t.durableWrites.perMessage,
      p50: h.latency.latencyMs.p50,
      p99: h.latency.latencyMs.p99,
      busy: h.latency.machineBusyCores,
      latCpu: sum(cpu),
      ...Object.fromEntries(services.map((k) => [k, cpu[k]])),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
for (const side of ["A", "B"]) {
  const mine = rows.filter((x) => x.side === side);
  const med = (k) => {
    const v = mine.map((x) => x[k]).sort((p, q) => p - q);
    return v[Math.floor((v.length - 1) / 2)];
  };
  console.log(
    `${side}: median sustained ${med("sustained")} msg/s at ${med("sustainedCpu")} µs; p99 ${med("p99")} ms; ` +
      `CPU at the latency rate ${med("latCpu")} µs (connector ${med("connector")}, persistence ${med("persistence")}, nats ${med("nats-server")})`,
  );
}
