import type { BaselineServer } from "./baseline-run.js";
import type { Offer } from "./ladder-run.js";
import type { BenchOptions } from "./options.js";
import type {
  SioEmitterPacedParams,
  SioEmitterSendParams,
  SioEmitterStartParams,
} from "./sio-emitter-worker.js";
import type { SioListenParams, SioPacedParams, SioSendParams } from "./sio-server-worker.js";
import { startWorker, type Worker } from "./worker.js";
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
    offer: async (phase, rate, durationMs) => {
      await worker.call<number>("paced", {
        phase,
        rate,
        durationMs,
        payloadBytes: o.payloadBytes,
      } satisfies PacedParams);
      // The server sends to its own sockets: nothing can fail but the delivery, which the clients count.
      return { errors: () => 0 };
    },
    stop: () => worker.stop(),
  };
}

/** Offers through a worker's `paced` call; `errors` reads its failed sends after it (a counter of the worker). */
function offerVia(
  worker: Worker,
  params: (phase: number, rate: number, durationMs: number) => object,
): Offer {
  return async (phase, rate, durationMs) => {
    const before = await worker.call<number>("errors");
    await worker.call<number>("paced", params(phase, rate, durationMs));
    const after = await worker.call<number>("errors");
    return { errors: () => after - before };
  };
}

/**
 * Two Socket.IO servers joined by the Redis Streams adapter, clients split between them, and the publisher in
 * its own process writing to the adapter's stream (its best setup, issue 14): each server reads every message
 * and delivers those for its own sockets. For comparison the ladder also runs the earlier path, server 0
 * emitting to each user's room itself (it delivers its half and forwards the rest through Redis).
 */
export async function startSocketIoServers(
  o: BenchOptions,
  users: string[],
  runId: string,
): Promise<BaselineServer> {
  const workers = [startWorker("sio-server-worker"), startWorker("sio-server-worker")];
  const publisher = startWorker("sio-emitter-worker");
  const streamName = `herald-bench-${runId}`;
  try {
    const ports = await Promise.all(
      workers.map((w) =>
        w.call<{ port: number }>("listen", { redisUrl: o.redisUrl, streamName } satisfies SioListenParams),
      ),
    );
    const { redisPid } = await publisher.call<{ redisPid?: number }>("start", {
      redisUrl: o.redisUrl,
      streamName,
    } satisfies SioEmitterStartParams);
    const server0 = workers[0];
    if (!server0) throw new Error("no socket.io server");
    const pacedParams = (phase: number, rate: number, durationMs: number) =>
      ({ phase, rate, durationMs, payloadBytes: o.payloadBytes, users }) satisfies SioEmitterPacedParams &
        SioPacedParams;
    return {
      name: "socket.io",
      mode: "sio",
      pids: workers.map((w) => w.pid),
      publisherPid: publisher.pid,
      systemPids: { server0: workers[0]?.pid, server1: workers[1]?.pid, redis: redisPid },
      targets: (list) =>
        list.map((user, i) => ({ user, url: `http://127.0.0.1:${ports[i % ports.length]?.port}` })),
      saturate: async (phase, messages) => {
        await publisher.call("saturate", {
          phase,
          messages,
          payloadBytes: o.payloadBytes,
          users,
        } satisfies SioEmitterSendParams & SioSendParams);
      },
      paced: (phase, rate, durationMs) =>
        publisher.call<number>("paced", pacedParams(phase, rate, durationMs)),
      offer: offerVia(publisher, pacedParams),
      alternatives: { "server 0 emits": offerVia(server0, pacedParams) },
      stop: async () => {
        await server0.call("cleanup").catch(() => undefined);
        await Promise.all([...workers, publisher].map((w) => w.stop()));
      },
    };
  } catch (error) {
    await Promise.all([...workers, publisher].map((w) => w.stop()));
    throw error;
  }
}
