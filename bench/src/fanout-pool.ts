import { sleep } from "./clock.js";
import type {
  FanoutConnectParams,
  FanoutConnectResult,
  FanoutMode,
  FanoutResetParams,
  FanoutStatsParams,
  FanoutTarget,
} from "./fanout-client-worker.js";
import { type FanoutSnapshot, mergeFanout } from "./fanout-tally.js";
import { startWorker, type Worker, WorkerError } from "./worker.js";

type WorkerStats = FanoutSnapshot & { closedEarly: number; errorFrames: number };
export type FanoutPoolStats = Required<FanoutSnapshot> & { closedEarly: number; errorFrames: number };

/** Client `k`'s source address: 127.0.0.2 … 127.0.0.(1 + addresses), round-robin. */
export function sourceAddress(k: number, addresses: number): string {
  return `127.0.0.${2 + (k % addresses)}`;
}

/**
 * `procs` fan-out load-generator processes sharing the clients round-robin (a process may hold at most
 * 20,000 file descriptors here, and one core's worth of receiving would cap the figures).
 *
 * @example
 * const pool = startFanoutPool(4);
 * await pool.connect("raw", 10_000, () => url, 10, "fan-1");
 * await pool.reset("raw", 1, 50, false);
 */
export function startFanoutPool(procs: number) {
  const workers: Worker[] = Array.from({ length: procs }, () => startWorker("fanout-client-worker"));
  const stats = async (mode: FanoutMode, latencies = false): Promise<FanoutPoolStats> => {
    const params: FanoutStatsParams = { mode, latencies };
    const all = await Promise.all(workers.map((w) => w.call<WorkerStats>("stats", params)));
    return {
      ...mergeFanout(all),
      closedEarly: all.reduce((sum, s) => sum + s.closedEarly, 0),
      errorFrames: all.reduce((sum, s) => sum + s.errorFrames, 0),
    };
  };
  return {
    pids: workers.map((w) => w.pid),
    /** Opens `clients` connections (URL of client k from `urlOf`); throws if any failed. */
    connect: async (
      mode: FanoutMode,
      clients: number,
      urlOf: (k: number) => string,
      addresses: number,
      channel: string,
    ) => {
      const results = await Promise.all(
        workers.map((worker, w) => {
          const targets: FanoutTarget[] = [];
          for (let k = w; k < clients; k += workers.length) {
            targets.push({ url: urlOf(k), localAddress: sourceAddress(k, addresses) });
          }
          const params: FanoutConnectParams = { mode, targets, channel, concurrency: 32, timeoutMs: 30_000 };
          return worker.call<FanoutConnectResult>("connect", params);
        }),
      );
      const failed = results.reduce((sum, r) => sum + r.failed, 0);
      if (failed > 0) {
        const error = results.find((r) => r.error)?.error;
        throw new WorkerError(`${failed} of ${clients} ${mode} clients failed: ${error}`);
      }
    },
    reset: async (mode: FanoutMode, phase: number, messages: number, record: boolean) => {
      const params: FanoutResetParams = { mode, phase, messages, record };
      await Promise.all(workers.map((w) => w.call("reset", params)));
    },
    stats,
    /**
     * Polls until `deliveries` arrived, nothing new arrived for `idleMs`, or `timeoutMs` passed; returns the
     * last stats either way (the caller reports what is missing).
     */
    waitFor: async (mode: FanoutMode, deliveries: number, idleMs: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      let last = await stats(mode);
      let lastChange = Date.now();
      while (last.deliveries < deliveries && Date.now() < deadline && Date.now() - lastChange < idleMs) {
        await sleep(25);
        const current = await stats(mode);
        if (current.deliveries !== last.deliveries) lastChange = Date.now();
        last = current;
      }
      return last;
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.call("close")));
    },
    stop: async () => {
      await Promise.all(workers.map((w) => w.call("close").catch(() => undefined)));
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}

export type FanoutPool = ReturnType<typeof startFanoutPool>;
