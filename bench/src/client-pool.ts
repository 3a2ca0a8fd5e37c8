import type { ClientMode, ClientTarget, ConnectParams, ResetParams, WireStats } from "./client-worker.js";
import { sleep } from "./clock.js";
import { mergeSnapshots, type TallySnapshot } from "./tally.js";
import { startWorker, type Worker, WorkerError } from "./worker.js";

type WorkerStats = TallySnapshot & { errorFrames: number; closedEarly: number };
export type PoolStats = Required<TallySnapshot> & { errorFrames: number; closedEarly: number };

export type ClientPool = {
  pids: number[];
  /**
   * Opens one connection per target, spread round-robin over the processes. Throws if any failed. `deflate`:
   * Herald clients offer permessage-deflate.
   */
  connect: (mode: ClientMode, targets: ClientTarget[], options?: { deflate?: boolean }) => Promise<void>;
  /** The Herald sockets' TCP byte counters so far, summed over the processes. */
  wire: () => Promise<WireStats>;
  reset: (params: ResetParams) => Promise<void>;
  stats: (latencies?: boolean) => Promise<PoolStats>;
  /**
   * Polls until `messages` distinct messages arrived, or nothing new arrived for `idleMs`, or `timeoutMs`
   * passed. Returns the last stats either way (the caller reports what is missing).
   */
  waitForAll: (messages: number, options: { idleMs: number; timeoutMs: number }) => Promise<PoolStats>;
  stop: () => Promise<void>;
};

/**
 * Forks `procs` load-generator processes.
 *
 * @example
 * const pool = startClientPool(2);
 * await pool.connect("ws", targets);
 */
export function startClientPool(procs: number): ClientPool {
  const workers: Worker[] = Array.from({ length: procs }, () => startWorker("client-worker"));
  const stats = async (latencies = false): Promise<PoolStats> => {
    const all = await Promise.all(workers.map((w) => w.call<WorkerStats>("stats", { latencies })));
    return {
      ...mergeSnapshots(all),
      errorFrames: all.reduce((sum, s) => sum + s.errorFrames, 0),
      closedEarly: all.reduce((sum, s) => sum + s.closedEarly, 0),
    };
  };
  return {
    pids: workers.map((w) => w.pid),
    connect: async (mode, targets, options) => {
      const results = await Promise.all(
        workers.map((worker, w) => {
          const mine = targets.filter((_, i) => i % workers.length === w);
          const params: ConnectParams = {
            mode,
            targets: mine,
            concurrency: 20,
            timeoutMs: 15_000,
            deflate: options?.deflate ?? false,
          };
          return worker.call<{ connected: number; failed: number; error?: string }>("connect", params);
        }),
      );
      const failed = results.reduce((sum, r) => sum + r.failed, 0);
      if (failed > 0) {
        const error = results.find((r) => r.error)?.error;
        throw new WorkerError(`${failed} of ${targets.length} ${mode} connections failed: ${error}`);
      }
    },
    reset: async (params) => {
      await Promise.all(workers.map((w) => w.call("reset", params)));
    },
    stats,
    wire: async () => {
      const all = await Promise.all(workers.map((w) => w.call<WireStats>("wire")));
      const sum = (key: keyof WireStats) => all.reduce((a, s) => a + s[key], 0);
      return {
        sockets: sum("sockets"),
        deflate: sum("deflate"),
        bytesRead: sum("bytesRead"),
        bytesWritten: sum("bytesWritten"),
      };
    },
    waitForAll: async (messages, { idleMs, timeoutMs }) => {
      const deadline = Date.now() + timeoutMs;
      let last = await stats();
      let lastChange = Date.now();
      while (last.unique < messages && Date.now() < deadline && Date.now() - lastChange < idleMs) {
        await sleep(20);
        const current = await stats();
        if (current.unique !== last.unique) lastChange = Date.now();
        last = current;
      }
      return last;
    },
    stop: async () => {
      await Promise.all(workers.map((w) => w.call("close").catch(() => undefined)));
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}
