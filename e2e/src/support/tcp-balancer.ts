import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A round-robin TCP balancer on 127.0.0.1, standing in for the ingress in front of the connectors: each new
 * connection goes to the next backend that accepts it, so clients of a dead connector land on a live one.
 */
export async function startBalancer(
  backends: () => number[],
): Promise<{ port: number; close: () => Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.pause();
    const ports = backends();
    const attempt = (tries: number) => {
      if (tries >= ports.length) return client.destroy();
      const port = ports[next++ % ports.length]!;
      const upstream = connect({ host: "127.0.0.1", port });
      upstream.once("error", () => {
        upstream.destroy();
        attempt(tries + 1);
      });
      upstream.once("connect", () => {
        upstream.removeAllListeners("error");
        sockets.add(upstream);
        upstream.on("close", () => sockets.delete(upstream));
        client.pipe(upstream).pipe(client);
        client.resume();
        const end = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on("error", end);
        upstream.on("error", end);
        client.on("close", end);
        upstream.on("close", end);
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
