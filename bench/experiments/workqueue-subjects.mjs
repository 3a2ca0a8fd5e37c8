#!/usr/bin/env node
// Measures what a file-backed work-queue stream costs nats-server when a publisher saturates it while one
// consumer acks, with messages spread over N subjects (Herald's intake has one subject per user).
// Usage (after `pnpm install`):
//   node bench/experiments/workqueue-subjects.mjs [subjects=1000] [messages=50000] [outstanding=unbounded]
// `outstanding` caps messages published but not yet consumed (a closed loop), so no backlog builds up.
// Found on nats-server 2.9.10, 2 cores: 1,000 subjects with a backlog → ~8-10k msg/s, ~107-131 µs server CPU
// per message; the same with at most 1,000 outstanding → ~24k msg/s, ~24 µs; 1 subject → ~26-34k msg/s, ~15-20 µs.
// Why: removing the first message of a subject that has more in the same block makes 2.9.10 scan forward
// message by message for that subject's next one (msgBlock.removeSeqPerSubject); 2.9.16 made it lazy.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const subjects = Number(process.argv[2] ?? 1000);
const total = Number(process.argv[3] ?? 50_000);
const outstandingCap = Number(process.argv[4] ?? Number.POSITIVE_INFINITY);
const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const server = spawn(
  process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server",
  ["-js", "-sd", mkdtempSync(join(tmpdir(), "wq-")), "-p", String(port), "-a", "127.0.0.1"],
  { stdio: "ignore" },
);
await new Promise((resolve) => setTimeout(resolve, 500));
/** User + system CPU of nats-server in ms, from /proc. */
const serverCpuMs = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const publisher = await connect({ servers: `127.0.0.1:${port}`, noAsyncTraces: true });
const subscriber = await connect({ servers: `127.0.0.1:${port}`, noAsyncTraces: true });
const js = jetstream(publisher);
const jsm = await jetstreamManager(publisher);
await jsm.streams.add({
  name: "W",
  subjects: ["w.>"],
  retention: "workqueue",
  storage: "file",
  duplicate_window: 120e9,
});
await jsm.consumers.add("W", { durable_name: "c", ack_policy: "explicit", max_ack_pending: 1024 });
const consumer = await jetstream(subscriber).consumers.get("W", "c");
let received = 0;
const drained = (async () => {
  const messages = await consumer.consume({ max_messages: 256 });
  for await (const m of messages) {
    m.ack();
    if (++received >= total) break;
  }
})();
const cpuBefore = serverCpuMs();
const started = performance.now();
const body = "x".repeat(200);
let next = 0;
await Promise.all(
  Array.from({ length: 512 }, async () => {
    while (next < total) {
      while (next - received >= outstandingCap) await new Promise((resolve) => setImmediate(resolve));
      const i = next++;
      await js.publish(`w.u${i % subjects}`, body, { msgID: `m${i}` });
    }
  }),
);
await drained;
const elapsed = performance.now() - started;
await new Promise((resolve) => setTimeout(resolve, 500));
const perMessage = ((serverCpuMs() - cpuBefore) * 1000) / total;
console.log(
  JSON.stringify({
    subjects,
    messages: total,
    outstanding: outstandingCap,
    msgsPerSec: Math.round(total / (elapsed / 1000)),
    serverCpuMicrosPerMessage: Number(perMessage.toFixed(1)),
  }),
);
await publisher.close();
await subscriber.close();
server.kill();
