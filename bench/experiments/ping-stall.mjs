// The connector's event-loop lag while it holds many idle connections through keep-alive rounds: connects N
// authenticated bare `ws` clients to one connector (HERALD_PING_INTERVAL 2 s), resets the connector's lag
// statistics with a scrape, waits three intervals and scrapes again. Run it from two checkouts to compare.
//   node bench/experiments/ping-stall.mjs [connections, default 5000]   (after `pnpm build`)
import { signToken } from "@herald/testkit";
import { openBare, startOneConnector } from "./one-connector.mjs";

const count = Number(process.argv[2] ?? 5000);
const { stack, stop } = await startOneConnector({ HERALD_PING_INTERVAL: "2s" });
const url = stack.wsUrl();
const tokens = await Promise.all(
  Array.from({ length: count }, (_, i) => signToken({ sub: `ps-${i}`, did: "d1" }, stack.jwtSecret)),
);
const sockets = [];
let next = 0;
await Promise.all(
  Array.from({ length: 100 }, async () => {
    while (next < count) {
      const token = tokens[next++];
      sockets.push(await openBare(url, token));
    }
  }),
);
const lag = async () => {
  const text = await (await fetch(`${stack.connectors[0].adminUrl}/metrics`)).text();
  const read = (name) =>
    Number(new RegExp(`^herald_nodejs_eventloop_lag_${name}_seconds\\S* (\\S+)`, "m").exec(text)?.[1]);
  return { maxMs: Math.round(read("max") * 1000), p99Ms: Math.round(read("p99") * 10000) / 10 };
};
await lag(); // resets the window
await new Promise((resolve) => setTimeout(resolve, 6_000));
console.log(JSON.stringify({ connections: sockets.length, ...(await lag()) }));
for (const ws of sockets) ws.terminate();
await stop();
