// Socket.IO 4.8 baseline server with the Redis Streams adapter (one of two). Every client joins a room named
// after its user. The bench's publisher is its own process (sio-emitter-worker); this server can also emit
// itself (the ladder's comparison): a targeted emit goes to that room, and the adapter forwards it through
// Redis to the other server.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { emitLoops, type PacedParams, type SaturateParams } from "./emit-loops.js";
import { dataMaker } from "./frames.js";
import { serveRpc } from "./worker.js";

export type SioListenParams = { redisUrl: string; streamName: string };
export type SioSendParams = SaturateParams;
export type SioPacedParams = PacedParams;

let io: Server | undefined;
let redis: ReturnType<typeof createClient> | undefined;
let streamName = "";
/** Emits that threw (none expected: an emit only queues). */
let errors = 0;

const room = (user: string) => `u:${user}`;

function emitterFor(payloadBytes: number, users: string[]) {
  const make = dataMaker(payloadBytes, (data) => JSON.stringify({ id: "s-1-99999", data }));
  return (phase: number, i: number) => {
    const user = users[i % users.length] ?? "";
    try {
      io?.to(room(user)).emit("m", { id: `s-${phase}-${i}`, data: make(phase, i) });
    } catch {
      errors++;
    }
  };
}

serveRpc(
  {
    listen: async (params) => {
      const options = params as SioListenParams;
      streamName = options.streamName;
      redis = createClient({ url: options.redisUrl });
      redis.on("error", () => {});
      await redis.connect();
      const server = new Server({
        adapter: createAdapter(redis, { streamName }),
        transports: ["websocket"],
        serveClient: false,
        perMessageDeflate: false,
      });
      io = server;
      server.on("connection", (socket) => {
        const user = (socket.handshake.auth as { u?: unknown }).u;
        if (typeof user === "string") void socket.join(room(user));
      });
      const http = createServer();
      server.attach(http);
      await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
      const port = (http.address() as AddressInfo).port;
      return { port };
    },
    connections: () => io?.engine.clientsCount ?? 0,
    errors: () => errors,
    ...emitLoops(emitterFor),
    cleanup: async () => {
      if (redis && streamName) await redis.del(streamName);
      return true;
    },
  },
  () => {
    io?.close();
  },
);
