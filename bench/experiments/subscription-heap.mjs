// Heap per core-NATS subscription with a callback, as the connector makes one per connected user: N
// subscriptions on one connection to a private nats-server, heap used after full collections before and after.
// With the nats-core patch (pnpm-workspace.yaml) the subscription's three promises are made when first used.
//
//   node --expose-gc bench/experiments/subscription-heap.mjs [subscriptions, default 20000]
import { startNatsServer } from "@herald/testkit";
import { connect } from "@nats-io/transport-node";

if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
const count = Number(process.argv[2] ?? 20_000);
const server = await startNatsServer({ auth: false });
const nc = await connect({ servers: server.url });
const heapAfterGc = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const before = heapAfterGc();
const subs = [];
for (let i = 0; i < count; i++) subs.push(nc.subscribe(`herald.live.user${i}`, { callback: () => {} }));
await nc.flush();
const after = heapAfterGc();
console.log(`${count} subscriptions: ${Math.round((after - before) / count)} B of heap each`);
console.log(
  `promises made up front: ${Object.hasOwn(subs[0], "closed") ? "yes (unpatched)" : "no (patched)"}`,
);
await nc.close();
await server.dispose();
