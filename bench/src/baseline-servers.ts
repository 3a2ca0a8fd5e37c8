import type { BaselineServer } from "./baseline-run.js";
import type { BenchOptions } from "./options.js";
import type { SioListenParams, SioPacedParams, SioSendParams } from "./sio-server-worker.js";
import { startWorker } from "./worker.js";
import type { PacedParams, SendParams } from "./ws-server-worker.js";

/**
 * One raw `ws` server process.
 *
 * @example
 * const result = await runBaseline(await startWsServer(o), users, o, log);
 */
export async function startWsServer(o: BenchOptions): Promise<BaselineServer> {
  const worker = startWorker("ws-server-worker");
  const { port } = await worker.call<{ port: number }>("listen");
  return {
    name: "ws",
    mode: "ws",
    pids: [worker.pid],
    targets: (users) => users.map((user) => ({ user, url: `ws://127.0.0.1:${port}/?u=${user}` })),
    saturate: async (phase, messages) => {
      await worker.call("saturate", { phase, messages, payloadBytes: o.payloadBytes } satisfies SendParams);
    },
    paced: (phase, rate, durationMs) =>
      worker.call<number>("paced", {
        phase,
        rate,
        durationMs,
        payloadBytes: o.payloadBytes,
      } satisfies PacedParams),
    stop: () => worker.stop(),
  };
}

/**
 * Two Socket.IO servers joined by the Redis Streams adapter; clients are split between them and server 0
 * emits to every user's room, so half of the messages cross Redis.
 */
export async function startSocketIoServers(
  o: BenchOptions,
  users: string[],
  runId: string,
): Promise<BaselineServer> {
  const workers = [startWorker("sio-server-worker"), startWorker("sio-server-worker")];
  const streamName = `herald-bench-${runId}`;
  try {
    const ports = await Promise.all(
      workers.map((w) =>
        w.call<{ port: number }>("listen", { redisUrl: o.redisUrl, streamName } satisfies SioListenParams),
      ),
    );
    const emitter = workers[0];
    if (!emitter) throw new Error("no socket.io server");
    return {
      name: "socket.io",
      mode: "sio",
      pids: workers.map((w) => w.pid),
      targets: (list) =>
        list.map((user, i) => ({ user, url: `http://127.0.0.1:${ports[i % ports.length]?.port}` })),
      saturate: async (phase, messages) => {
        await emitter.call("saturate", {
          phase,
          messages,
          payloadBytes: o.payloadBytes,
          users,
        } satisfies SioSendParams);
      },
      paced: (phase, rate, durationMs) =>
        emitter.call<number>("paced", {
          phase,
          rate,
          durationMs,
          payloadBytes: o.payloadBytes,
          users,
        } satisfies SioPacedParams),
      stop: async () => {
        await emitter.call("cleanup").catch(() => undefined);
        await Promise.all(workers.map((w) => w.stop()));
      },
    };
  } catch (error) {
    await Promise.all(workers.map((w) => w.stop()));
    throw error;
  }
}
