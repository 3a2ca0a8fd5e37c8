#!/usr/bin/env node
// Summarises V8 .cpuprofile files (from `--cpu-prof`): top functions by self time, and self time grouped by
// source file (package), each as a share of the busy (non-idle) samples. Optionally limited to a time window.
//   node bench/experiments/cpuprofile-top.mjs <file.cpuprofile>... [--top N] [--from S] [--to S]
//     [--inclusive REGEX] [--callers REGEX]
// `--from`/`--to` are seconds since the profile started (to skip start-up and keep the measured phase);
// `--inclusive`: time under each function whose name matches; `--callers`: who calls the matching functions.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const top = opt("--top", 25);
const from = opt("--from", 0);
const to = opt("--to", Number.POSITIVE_INFINITY);
// `--inclusive REGEX`: also the total time (self + callees) under each function whose name matches.
const incIdx = args.indexOf("--inclusive");
const inclusive = incIdx < 0 ? undefined : new RegExp(args.splice(incIdx, 2)[1]);
// `--callers REGEX`: self time of the functions whose name matches, by the chain of their 3 nearest callers.
const calIdx = args.indexOf("--callers");
const callers = calIdx < 0 ? undefined : new RegExp(args.splice(calIdx, 2)[1]);

const IDLE = new Set(["(idle)", "(program)", "(garbage collector)"]);

function shortUrl(url) {
  if (!url) return "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + 13).replace(/^\.pnpm\/[^/]+\/node_modules\//, "");
  const m = url.match(/(apps|packages)\/[^/]+\/.*$/);
  return m ? m[0] : url.replace(/^file:\/\//, "");
}

function summarise(file) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const under = new Map();
  const byCaller = new Map();
  let t = p.startTime;
  let busy = 0;
  let gc = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    const s = (t - p.startTime) / 1e6;
    if (s < from || s > to) continue;
    const n = byId.get(p.samples[i]);
    const name = n.callFrame.functionName || "(anonymous)";
    if (name === "(idle)") {
      idle += dt;
      continue;
    }
    if (name === "(garbage collector)") gc += dt;
    busy += dt;
    const key = IDLE.has(name) ? name : `${name} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    if (callers?.test(n.callFrame.functionName)) {
      const chain = [];
      for (let id = parent.get(n.id); id !== undefined && chain.length < 3; id = parent.get(id)) {
        const f = byId.get(id).callFrame;
        chain.push(
          `${f.functionName || "(anonymous)"} ${shortUrl(f.url).split("/").pop()}:${f.lineNumber + 1}`,
        );
      }
      const k = `${n.callFrame.functionName} <- ${chain.join(" <- ")}`;
      byCaller.set(k, (byCaller.get(k) ?? 0) + dt);
    }
    if (inclusive) {
      const seen = new Set();
      for (let id = n.id; id !== undefined; id = parent.get(id)) {
        const f = byId.get(id).callFrame;
        const k = `${f.functionName} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
        if (!inclusive.test(f.functionName) || seen.has(k)) continue;
        seen.add(k);
        under.set(k, (under.get(k) ?? 0) + dt);
      }
    }
  }
  const files = new Map();
  for (const [key, dt] of self) {
    const f = key.startsWith("(") ? key : key.slice(key.indexOf(" ") + 1).replace(/:\d+$/, "");
    files.set(f, (files.get(f) ?? 0) + dt);
  }
  const pct = (dt) => `${((100 * dt) / busy).toFixed(1).padStart(5)}%`;
  console.log(
    `\n== ${file}\nbusy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s, GC ${pct(gc)}`,
  );
  console.log("-- self time by function");
  for (const [k, dt] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(dt)}  ${k}`);
  if (callers) {
    console.log("-- self time by callers");
    for (const [k, dt] of [...byCaller].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${pct(dt)}  ${k}`);
  }
  if (inclusive) {
    console.log("-- inclusive time");
    for (const [k, dt] of [...under].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${pct(dt)}  ${k}`);
  }
  console.log("-- self time by file");
  for (const [k, dt] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(dt)}  ${k}`);
}

for (const f of args) summarise(f);
