// CPU per core NATS publish of this checkout's client (`@nats-io/transport-node` with the patched nats-core):
// a receipt-sized payload, plain and with a `traceparent` header, to a private nats-server with no subscriber.
// Run the same file from two checkouts (copy it into the other's bench/experiments) to compare their clients.
//   node bench/experiments/publish-cost.mjs [publishes per round, default 200000] [rounds, default 5]
// (needs NATS_SERVER_BIN, as `eval "$(node scripts/lib/toolchain.mjs env)"` sets it)
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { connect, headers } from "@nats-io/transport-node";

const count = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const server = spawn(process.env.NATS_SERVER_BIN ?? "nats-server", ["-a", "127.0.0.1", "-p", String(port)], {
  stdio: "ignore",
});
let nc;
for (let tries = 0; !nc; tries++) {
  nc = await connect({ servers: `127.0.0.1:${port}` }).catch((err) => {
    if (tries > 50) throw err;
    return new Promise((resolve) => setTimeout(resolve, 100));
  });
}
const body = Buffer.from(
  JSON.stringify({ type: "receipt", id: "m-123456", status: "delivered", device: "d1" }),
);
const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

async function measure(withHeader) {
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const options = withHeader ? { headers: headers() } : undefined;
    options?.headers.set("traceparent", traceparent);
    nc.publish(`herald.receipt.u${i % 1000}`, body, options);
    if (i % 1000 === 999) await nc.flush();
  }
  await nc.flush();
  const used = process.cpuUsage(before);
  return Math.round(((used.user + used.system) / count) * 1000) / 1000;
}

for (let round = 0; round < rounds; round++)
  console.log(JSON.stringify({ round, plainUs: await measure(false), traceparentUs: await measure(true) }));
await nc.close();
server.kill();
