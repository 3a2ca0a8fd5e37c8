// Socket.IO's publisher in its own process, as issue 14 asks for its best setup: it writes each targeted emit
// to the Redis stream that both servers' Redis Streams adapters read, and each server delivers it to the
// room's sockets it holds. `@socket.io/redis-streams-emitter` is not in the npm registry this project
// reaches, so this writes the entry that package writes: the adapter's own format (a BROADCAST from the uid
// "emitter", which the cluster adapter accepts from outside the cluster), with the adapter's default trim.
import { inspect } from "node:util";
import { createClient } from "redis";
import { emitLoops, type PacedParams, type SaturateParams } from "./emit-loops.js";
import { dataMaker } from "./frames.js";
import { serveRpc } from "./worker.js";

export type SioEmitterStartParams = { redisUrl: string; streamName: string };
export type SioEmitterSendParams = SaturateParams;
export type SioEmitterPacedParams = PacedParams;

/** The cluster adapter's constants (socket.io-adapter 2.5): the emitter's uid, BROADCAST, an EVENT packet. */
const EMITTER_UID = "emitter";
const BROADCAST = "3";
const EVENT = 2;
/** The Redis Streams adapter's default `maxLen` (approximate trim on every XADD). */
const MAX_LEN = 10_000;

let redis: ReturnType<typeof createClient> | undefined;
let streamName = "";
let errors = 0;

const room = (user: string) => `u:${user}`;

function emitterFor(payloadBytes: number, users: string[]) {
  const make = dataMaker(payloadBytes, (data) => JSON.stringify({ id: "s-1-99999", data }));
  return (phase: number, i: number) => {
    const user = users[i % users.length] ?? "";
    const packet = { type: EVENT, data: ["m", { id: `s-${phase}-${i}`, data: make(phase, i) }], nsp: "/" };
    const data = JSON.stringify({ packet, opts: { rooms: [room(user)], except: [], flags: {} } });
    redis
      ?.xAdd(
        streamName,
        "*",
        { uid: EMITTER_UID, nsp: "/", type: BROADCAST, data },
        { TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: MAX_LEN } },
      )
      .catch((error: unknown) => {
        // The first failure's reason, once (the bench's log shows this worker's stderr); the count goes back.
        if (errors++ === 0) console.error(`socket.io emitter: XADD failed: ${inspect(error)}`);
      });
  };
}

serveRpc(
  {
    start: async (params) => {
      const options = params as SioEmitterStartParams;
      streamName = options.streamName;
      redis = createClient({ url: options.redisUrl });
      redis.on("error", () => {});
      await redis.connect();
      // Redis's own pid, so that the ladder counts the broker's CPU as it counts nats-server's for Herald.
      const info = await redis.info("server");
      const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      return { redisPid: Number.isInteger(pid) ? pid : undefined };
    },
    /** XADDs that failed so far. */
    errors: () => errors,
    ...emitLoops(emitterFor),
  },
  () => {
    void redis?.quit().catch(() => undefined);
  },
);
