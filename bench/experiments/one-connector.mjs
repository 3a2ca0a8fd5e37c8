// Shared by the connection experiments (`connect-cost.mjs`, `ping-stall.mjs`): a private nats-server and a stack
// with one connector that admits as many connections from one address as asked, and a bare `ws` client that
// authenticates with the `auth` frame.
import { startNatsServer, startStack } from "@herald/testkit";
import WebSocket from "ws";

/** nats-server and the four services; `connectorEnv` is added to the connector's env. */
export async function startOneConnector(connectorEnv = {}) {
  const nats = await startNatsServer({ jetstream: true });
  const stack = await startStack({
    nats,
    replicas: 1,
    envFor: {
      connector: {
        // One source address and no admission pacing: these measure the work per connection, not the limits.
        HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: "100000",
        HERALD_MAX_CONNECTIONS_PER_IP: "100000",
        ...connectorEnv,
      },
    },
  });
  const stop = async () => {
    await stack.stop();
    await nats.stop();
  };
  return { nats, stack, stop };
}

/** A bare `ws` client, resolved with its socket once the connector's first frame (the `welcome`) arrives. */
export function openBare(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("open", () => ws.send(JSON.stringify({ type: "auth", token })));
    ws.once("message", () => resolve(ws));
    ws.on("error", reject);
  });
}
