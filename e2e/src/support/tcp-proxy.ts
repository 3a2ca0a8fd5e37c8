import { connect, createServer, type Server, type Socket } from "node:net";

export type TcpProxy = {
  port: number;
  /** `nats://127.0.0.1:<port>`: give this to a service instead of the real NATS URL. */
  url: string;
  /** Drops every proxied connection and refuses new ones (accepted, then reset) until `restore`. */
  cut: () => void;
  restore: () => void;
  /** Connections currently proxied. */
  connections: () => number;
  close: () => Promise<void>;
};

/**
 * A TCP proxy on 127.0.0.1 to one target port, standing in for the network between one service and NATS, so
 * a test can cut that link (both directions, connections reset) and heal it while everything else stays up.
 *
 * @example
 * const proxy = await startTcpProxy(natsPort);
 * const connector = await startService("connector", { NATS_URL: proxy.url, ... });
 * proxy.cut(); // the connector loses NATS and keeps failing to reconnect
 * proxy.restore(); // its next attempt gets through
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let open = true;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    if (!open) {
      client.resetAndDestroy();
      return;
    }
    client.pause();
    const upstream = connect({ host: "127.0.0.1", port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.on("error", end);
      socket.on("close", end);
    }
    upstream.once("connect", () => {
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const cut = () => {
    open = false;
    for (const [client, upstream] of pairs) {
      // A reset, not a FIN: what a broken link looks like to both ends.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    cut,
    restore: () => {
      open = true;
    },
    connections: () => pairs.size,
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
}
