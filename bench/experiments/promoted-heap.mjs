// What a process promotes to V8's old generation, by allocation site: a preload that runs V8's sampling heap
// profiler keeping only objects that survived the young collections (`includeObjectsCollectedByMinorGC: false`;
// those a full collection freed later stay counted), one profile per window, and a reader for those profiles.
// Promoted garbage is what makes the old generation grow between full collections, and so the room a bounded
// heap needs (`HERALD_HEAP_GROWTH_PERCENT`).
//
// Record (the connector of the idle part; windows of PROMOTED_HEAP_SECONDS, default 10, written to
// PROMOTED_HEAP_DIR as <pid>-<n>.heapprofile; one sample per PROMOTED_HEAP_INTERVAL bytes, default 16384: the
// smaller, the more the profiler itself slows the process and stretches its objects' lives; PROMOTED_HEAP_ALL=1
// counts every allocation instead, young garbage included):
//   BENCH_IDLE_SYSTEMS=herald \
//   BENCH_IDLE_CONNECTOR_NODE_OPTIONS="--import=$PWD/bench/experiments/promoted-heap.mjs" \
//   BENCH_IDLE_CONNECTOR_ENV='{"PROMOTED_HEAP_DIR":"/tmp/promoted"}' \
//   node bench/dist/main.js --only idle --out /tmp/idle
// Read (bytes promoted per site; divide by the window's messages for a per-message figure):
//   node bench/experiments/promoted-heap.mjs <file.heapprofile> [--top 30] [--depth 4]
import { appendFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";

/** Young and full collections since the last window, and their time (ms). */
function gcCounter() {
  const counts = { minor: 0, minorMs: 0, major: 0, majorMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = entry.detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        counts.minor++;
        counts.minorMs += entry.duration;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        counts.major++;
        counts.majorMs += entry.duration;
      }
    }
  }).observe({ entryTypes: ["gc"] });
  return () => {
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s]));
    const mb = (bytes) => Math.round(bytes / 1e5) / 10;
    const line = {
      at: new Date().toISOString(),
      minor: counts.minor,
      minorMs: Math.round(counts.minorMs),
      major: counts.major,
      majorMs: Math.round(counts.majorMs),
      newSpaceMB: mb(spaces.new_space?.space_size ?? 0),
      oldUsedMB: mb(spaces.old_space?.space_used_size ?? 0),
      oldSizeMB: mb(spaces.old_space?.space_size ?? 0),
    };
    Object.assign(counts, { minor: 0, minorMs: 0, major: 0, majorMs: 0 });
    return line;
  };
}

function record(dir) {
  const seconds = Number(process.env.PROMOTED_HEAP_SECONDS ?? 10);
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
    );
  const start = () =>
    post("HeapProfiler.startSampling", {
      samplingInterval: Number(process.env.PROMOTED_HEAP_INTERVAL ?? 16_384),
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: process.env.PROMOTED_HEAP_ALL === "1",
    });
  const gc = gcCounter();
  let n = 0;
  // Each window also appends its collections and heap spaces to <pid>-gc.jsonl, one JSON line per window.
  const cut = async () => {
    const { profile } = await post("HeapProfiler.stopSampling");
    const name = `${process.pid}-${String(++n).padStart(3, "0")}`;
    writeFileSync(join(dir, `${name}.heapprofile`), JSON.stringify(profile));
    appendFileSync(join(dir, `${process.pid}-gc.jsonl`), `${JSON.stringify({ window: name, ...gc() })}\n`);
    await start();
  };
  post("HeapProfiler.enable")
    .then(start)
    .then(() => setInterval(() => void cut().catch(() => undefined), seconds * 1000).unref())
    .catch((err) => console.error("promoted-heap: could not start sampling", err));
}

function read(path, top, depth) {
  // Lazy import keeps the preload free of anything but what recording needs.
  return import("node:fs").then(({ readFileSync }) => {
    const { head } = JSON.parse(readFileSync(path, "utf8"));
    const sites = new Map();
    let total = 0;
    const walk = (node, stack) => {
      const frame = `${node.callFrame.functionName || "(anonymous)"} ${short(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
      const here = [frame, ...stack].slice(0, depth);
      const bytes = node.selfSize;
      if (bytes > 0) {
        total += bytes;
        const key = here.join(" <- ");
        sites.set(key, (sites.get(key) ?? 0) + bytes);
      }
      for (const child of node.children) walk(child, here);
    };
    walk(head, []);
    console.log(`${path}: ${(total / 1e6).toFixed(2)} MB promoted`);
    for (const [key, bytes] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(
        `${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${(bytes / 1e3).toFixed(0).padStart(7)} kB  ${key}`,
      );
  });
}

function short(url) {
  if (!url) return "(native)";
  const at = url.lastIndexOf("node_modules/");
  if (at >= 0) return url.slice(at + 13).replace(/^\.pnpm\/[^/]+\/node_modules\//, "");
  return url.replace(/^file:\/\/.*\/(apps|packages)\//, "$1/");
}

const preloaded = process.env.PROMOTED_HEAP_DIR && !process.argv[1]?.endsWith("promoted-heap.mjs");
if (preloaded) record(process.env.PROMOTED_HEAP_DIR);
else if (process.argv[1]?.endsWith("promoted-heap.mjs")) {
  const args = process.argv.slice(2);
  const flag = (name, fallback) => {
    const at = args.indexOf(name);
    return at < 0 ? fallback : Number(args.splice(at, 2)[1]);
  };
  const top = flag("--top", 30);
  const depth = flag("--depth", 4);
  for (const path of args) await read(path, top, depth);
}
