// CPU per intake message of the router's `decide` (subject check, JSON parse, body schema, destinations), on
// 1,000 users' messages shaped like the bench's (200 bytes). One process, no I/O: repeatable on a noisy machine,
// so a change to validation can be compared before and after in a few seconds. Build first (pnpm build).
//
//   node bench/experiments/router-decide.mjs [messages, default 300000]
import { subjects, userToken } from "@herald/protocol";
import { decide } from "../../apps/router/dist/intake.js";

const messages = Number(process.argv[2] ?? 300_000);
const s = subjects("herald");
const encoder = new TextEncoder();
const inputs = Array.from({ length: 1_000 }, (_, i) => ({
  subject: s.sendUser(userToken(`user-${i}`)),
  payload: encoder.encode(
    JSON.stringify({
      id: `run-3-${i}`,
      data: { ph: 3, i, t: 123456789012, w: 1795730000000000, p: "x".repeat(90) },
    }),
  ),
}));
const run = (n) => {
  for (let k = 0; k < n; k++) {
    if (decide(s, inputs[k % inputs.length], 65_536).kind !== "route") throw new Error("not routed");
  }
};
run(50_000); // warm-up
const before = process.cpuUsage();
run(messages);
const cpu = process.cpuUsage(before);
console.log(
  JSON.stringify({
    messages,
    cpuMicrosPerMessage: Math.round(((cpu.user + cpu.system) / messages) * 100) / 100,
  }),
);
