#!/usr/bin/env node
// CPU per message of the connector's acked-id memory (`RecentIds`): one lookup as a message is delivered and one
// add as it is acked, for 1,000 connections whose ids share a prefix and come round-robin (as the bench's do), for
// two builds side by side (interleaved rounds).
//   node bench/experiments/recent-ids.mjs <repoA> [repoB] [--held N]   (each built: apps/connector/dist)
// `--held`: ids each connection holds in the 10 s window (default 10, 30, 50 in turn: a scan below 32, a Set past).
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const heldAt = args.indexOf("--held");
const helds = heldAt < 0 ? [10, 30, 50] : [Number(args.splice(heldAt, 2)[1])];
const repos = args.map((r) => resolve(r));
if (repos.length === 0) repos.push(resolve("."));

const CONNECTIONS = 1_000;
const MESSAGES = 300_000;
const WARMUP = 100_000;
const ids = Array.from({ length: MESSAGES }, (_, m) => `mq3k9x2f-2-${m}`);

function nanosPerMessage(RecentIds, held) {
  const rings = Array.from({ length: CONNECTIONS }, () => new RecentIds(4_000, 10_000));
  const step = 10_000 / (held * CONNECTIONS);
  let now = 0;
  const run = (from, to) => {
    for (let m = from; m < to; m++) {
      const ring = rings[m % CONNECTIONS];
      if (ring.has(ids[m])) throw new Error("a new id was found");
      if (ring.addNew) ring.addNew(ids[m], now);
      else ring.add(ids[m], now);
      now += step;
    }
  };
  run(0, WARMUP);
  const start = process.cpuUsage();
  run(WARMUP, MESSAGES);
  const used = process.cpuUsage(start);
  return Math.round(((used.user + used.system) * 1000) / (MESSAGES - WARMUP));
}

const builds = await Promise.all(
  repos.map(async (repo) => ({
    repo,
    RecentIds: (await import(pathToFileURL(join(repo, "apps/connector/dist/recent-ids.js")).href)).RecentIds,
  })),
);
for (const held of helds) {
  for (let round = 0; round < 3; round++) {
    const line = builds.map((b) => `${b.repo}: ${nanosPerMessage(b.RecentIds, held)} ns`).join("  |  ");
    console.log(`held ${held}, round ${round + 1}: ${line}`);
  }
}
