// Heap per event emitter by how it is listened to: what each listener a connection adds to its socket or
// WebSocket costs when 10,000s of them sit idle (a new event name grows the emitter's events dictionary, a
// second listener of one event makes an array), and an array made empty then pushed against a literal of one.
//
//   node --expose-gc bench/experiments/listener-heap.mjs [emitters, default 50000]
import { EventEmitter } from "node:events";

if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
const count = Number(process.argv[2] ?? 50_000);
const [a, b, c, d] = [() => {}, () => {}, () => {}, () => {}];

function measure(label, make) {
  globalThis.gc();
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  const kept = [];
  for (let i = 0; i < count; i++) kept.push(make());
  globalThis.gc();
  globalThis.gc();
  const each = Math.round((process.memoryUsage().heapUsed - before) / count);
  console.log(`${label.padEnd(48)} ${String(each).padStart(4)} B (${kept.length})`);
}

const on = (events) => () => {
  const emitter = new EventEmitter();
  for (const [name, fn] of events) emitter.on(name, fn);
  return emitter;
};
measure(
  "emitter: message, close, error",
  on([
    ["message", a],
    ["close", b],
    ["error", c],
  ]),
);
measure(
  "emitter: message, close, error, pong",
  on([
    ["message", a],
    ["close", b],
    ["error", c],
    ["pong", d],
  ]),
);
measure(
  "emitter: message, close ×2, error",
  on([
    ["message", a],
    ["close", b],
    ["close", d],
    ["error", c],
  ]),
);
measure("array: [] then push(fn)", () => {
  const list = [];
  list.push(a);
  return list;
});
measure("array: [fn]", () => [a]);
