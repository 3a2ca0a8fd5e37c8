// Raw `ws` baseline server: what a single Node process can push to 1,000 sockets with no broker, no
// durability and no acks. Frames look like Herald's `message` frames.
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { sleep } from "./clock.js";
import { dataMaker } from "./frames.js";
import { paced } from "./pacing.js";
import { serveRpc } from "./worker.js";

export type SendParams = { phase: number; messages: number; payloadBytes: number };
export type PacedParams = { phase: number; rate: number; durationMs: number; payloadBytes: number };

const byUser = new Map<string, WebSocket>();
let server: WebSocketServer | undefined;

function frameFor(payloadBytes: number) {
  const make = dataMaker(payloadBytes, (data) => JSON.stringify({ id: "r-1-99999", data }));
  return (phase: number, i: number, seq: number) =>
    JSON.stringify({ type: "message", id: `r-${phase}-${i}`, seq, data: make(phase, i), ts: Date.now() });
}

function sockets(): WebSocket[] {
  return [...byUser.keys()].sort().map((user) => byUser.get(user) as WebSocket);
}

serveRpc(
  {
    listen: async () => {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
      server = wss;
      wss.on("connection", (ws, request) => {
        const user = new URL(request.url ?? "/", "http://x").searchParams.get("u") ?? "";
        byUser.set(user, ws);
        ws.on("close", () => byUser.delete(user));
      });
      await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
      return { port: (wss.address() as AddressInfo).port };
    },
    connections: () => byUser.size,
    /** Targeted sends round-robin over the users, as fast as the event loop goes (yielding for I/O). */
    saturate: async (params) => {
      const { phase, messages, payloadBytes } = params as SendParams;
      const targets = sockets();
      const frame = frameFor(payloadBytes);
      for (let i = 0; i < messages; i++) {
        targets[i % targets.length]?.send(frame(phase, i, i + 1));
        // Yield now and then so the sockets drain instead of everything piling up in user space.
        if (i % 500 === 499) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await sleep(0);
      return messages;
    },
    paced: async (params) => {
      const { phase, rate, durationMs, payloadBytes } = params as PacedParams;
      const targets = sockets();
      const frame = frameFor(payloadBytes);
      return paced(rate, durationMs, (i) => targets[i % targets.length]?.send(frame(phase, i, i + 1)));
    },
  },
  () => server?.close(),
);
