#!/usr/bin/env node
// CPU per live message of the connector's parse (`parseUserLive`: RePublish headers, mailbox entry, frame),
// with no I/O, for two builds side by side (interleaved rounds), so a change can be compared on a noisy machine.
//   node bench/experiments/live-parse.mjs <repoA> [repoB]   (each built: apps/connector/dist)
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const repos = process.argv.slice(2).map((r) => resolve(r));
if (repos.length === 0) repos.push(resolve("."));
const load = (repo, path) => import(pathToFileURL(join(repo, path)).href);
const encoder = new TextEncoder();

async function setup(repo) {
  const { parseUserLive } = await load(repo, "apps/connector/dist/live-feeds.js");
  const { MsgImpl } = await load(repo, "apps/connector/node_modules/@nats-io/transport-node/lib/mod.js");
  return { parseUserLive, MsgImpl };
}

function message(MsgImpl, i) {
  const block =
    "NATS/1.0\r\nNats-Stream: HERALD_MBOX\r\nNats-Subject: herald.mbox.dTAwMDAx\r\n" +
    `Nats-Sequence: ${1000 + i}\r\nNats-Time-Stamp: 2026-12-06T02:10:00.123456789Z\r\n` +
    `Nats-Last-Sequence: ${990 + i}\r\nNats-Msg-Id: run-9-${i}\r\n\r\n`;
  const body = JSON.stringify({ id: `run-9-${i}`, data: { text: "x".repeat(150), n: i, at: "2026-12-06" } });
  const head = encoder.encode(block);
  const data = new Uint8Array(head.length + body.length);
  data.set(head);
  data.set(encoder.encode(body), head.length);
  const arg = {
    subject: encoder.encode("herald.live.dTAwMDAx"),
    sid: 1,
    hdr: head.length,
    size: data.length,
  };
  return () => new MsgImpl(arg, data, {});
}

const sides = await Promise.all(repos.map(setup));
const makers = sides.map((s) => Array.from({ length: 64 }, (_, i) => message(s.MsgImpl, i)));
let sink = 0;
const N = 100_000;
const results = sides.map(() => []);
for (let round = 0; round < 6; round++) {
  for (const [k, side] of sides.entries()) {
    const make = makers[k];
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) sink += side.parseUserLive(make[i & 63]()).seq;
    const used = process.cpuUsage(start);
    if (round > 0) results[k].push(((used.user + used.system) * 1000) / N);
  }
}
for (const [k, repo] of repos.entries()) {
  const sorted = results[k].sort((a, b) => a - b);
  console.log(
    `${repo}: parseUserLive ${sorted.map((x) => x.toFixed(0)).join(" ")} ns CPU per message (median ${sorted[2].toFixed(0)})`,
  );
}
if (sink === 0) console.log("");
