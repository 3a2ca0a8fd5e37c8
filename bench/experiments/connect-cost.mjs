// CPU per connection of each side while many clients connect to one connector: this process (the clients) and
// the connector (from /proc), for the SDK's `HeraldClient` and for a bare `ws` client that sends the same
// `auth` frame and waits for the `welcome`. Interleaved rounds, so a busy machine weighs on both alike.
//   node bench/experiments/connect-cost.mjs [clients per round, default 2000] [rounds, default 3]
// (after `pnpm build`)
import { HeraldClient } from "@herald/client";
import { signToken } from "@herald/testkit";
import WebSocket from "ws";
import { cpuSeconds } from "../dist/procfs.js";
import { openBare, startOneConnector } from "./one-connector.mjs";

const count = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const concurrency = 100;
// `CC_KINDS=sdk` (or `bare`) measures one kind only.
const kinds = [
  ["sdk", sdk],
  ["bare", bare],
].filter(([kind]) => (process.env.CC_KINDS ?? "sdk,bare").split(",").includes(kind));

// `CC_PROFILE_DIR=<dir>`: the connector writes a `.cpuprofile` there when the script ends.
const { stack, stop } = await startOneConnector(
  process.env.CC_PROFILE_DIR
    ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.CC_PROFILE_DIR}` }
    : {},
);
const connector = stack.connectors[0];
const tokens = await Promise.all(
  Array.from({ length: count }, (_, i) => signToken({ sub: `cc-${i}`, did: "d1" }, stack.jwtSecret)),
);
const url = stack.wsUrl();

function sdk(token) {
  const client = new HeraldClient({ url, token, WebSocket, transport: "websocket" });
  return client.connect().then(() => ({ close: () => client.close() }));
}

function bare(token) {
  return openBare(url, token).then((ws) => ({
    close: () =>
      new Promise((resolve) => {
        ws.once("close", resolve);
        ws.close();
      }),
  }));
}

async function round(kind, open) {
  const cpu0 = process.cpuUsage();
  const conn0 = await cpuSeconds(connector.pid);
  const t0 = performance.now();
  const clients = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) clients.push(await open(tokens[next++]));
    }),
  );
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const conn = (await cpuSeconds(connector.pid)) - conn0;
  await Promise.all(clients.map((c) => c.close()));
  await new Promise((r) => setTimeout(r, 2000));
  return {
    kind,
    clientUs: Math.round((cpu.user + cpu.system) / count),
    connectorUs: Math.round((conn * 1e6) / count),
    wallMs: Math.round(wall),
  };
}

for (let r = 0; r < rounds; r++) {
  for (const [kind, open] of kinds) console.log(JSON.stringify(await round(kind, open)));
}
await stop();
