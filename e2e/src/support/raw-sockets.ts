import { connect, type Socket } from "node:net";
import type { TestClient } from "@herald/testkit";

/**
 * Sends `frames` in one TCP write: the socket is corked while `ws` frames each one, so the connector reads
 * them in one chunk and handles them back to back, before any of its awaits resumes. (`_socket` is `ws`'s
 * underlying socket; it has no public accessor.)
 */
export function sendPipelined(client: TestClient, frames: unknown[]): void {
  const socket = (client.ws as unknown as { _socket: Socket })._socket;
  socket.cork();
  for (const frame of frames) client.send(frame as Record<string, unknown>);
  socket.uncork();
}

export type DripResult = { closedAfterMs: number; response: string };

/**
 * Opens a plain TCP connection to `port` and starts an upgrade request whose headers never end: one more
 * header line every `everyMs`. Resolves when the server closes the socket, with how long that took and what
 * it answered (if anything); gives up (rejects) after `giveUpMs`.
 */
export function dripUpgradeHeaders(port: number, everyMs: number, giveUpMs: number): Promise<DripResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let line = 0;
    const drip = setInterval(() => {
      if (socket.writable) socket.write(`X-Drip-${line++}: still sending\r\n`);
    }, everyMs);
    const giveUp = setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
      reject(new Error(`the server still held the socket after ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on("connect", () =>
      socket.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"),
    );
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ closedAfterMs: Date.now() - started, response: Buffer.concat(chunks).toString("utf8") });
    });
  });
}
