import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Raised when a worker process fails a call or dies. */
export class WorkerError extends Error {
  override name = "WorkerError";
  readonly code = "bench_worker";
}

type Request = { id: number; method: string; params: unknown };
type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
export type Handlers = Record<string, (params: unknown) => unknown>;

const live = new Set<ChildProcess>();
let hooked = false;

// A benchmark interrupted half-way must not leave servers and 1,000 sockets behind on a 2-core machine.
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

export type Worker = {
  readonly pid: number;
  call: <T>(method: string, params?: unknown) => Promise<T>;
  /** Disconnects (the worker exits on that) and waits; SIGKILL after 5 s. */
  stop: () => Promise<void>;
};

/**
 * Forks `bench/dist/<name>.js` (a module that calls `serveRpc`) and returns a handle to call its methods.
 *
 * @example
 * const server = startWorker("ws-server-worker");
 * const { port } = await server.call<{ port: number }>("listen", {});
 */
export function startWorker(name: string): Worker {
  hookExit();
  const path = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const child = fork(path, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced" });
  live.add(child);
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      live.delete(child);
      for (const call of pending.values()) call.reject(new WorkerError(`${name} exited (${code ?? signal})`));
      pending.clear();
      resolve();
    });
  });
  child.on("message", (raw) => {
    const response = raw as Response;
    const call = pending.get(response.id);
    if (!call) return;
    pending.delete(response.id);
    if (response.ok) call.resolve(response.result);
    else call.reject(new WorkerError(`${name}: ${response.error}`));
  });
  return {
    pid: child.pid ?? 0,
    call: <T>(method: string, params: unknown = {}) =>
      new Promise<T>((resolve, reject) => {
        if (exited) {
          reject(new WorkerError(`${name} is not running`));
          return;
        }
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, method, params } satisfies Request);
      }),
    stop: async () => {
      if (exited) return;
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * Worker side: answers calls from the parent with `handlers`, and exits when the parent goes away.
 *
 * @example
 * serveRpc({ ping: () => "pong" });
 */
export function serveRpc(handlers: Handlers, onExit: () => void = () => {}): void {
  process.on("message", (raw) => {
    const request = raw as Request;
    const reply = (response: Response) => {
      if (process.connected) process.send?.(response);
    };
    Promise.resolve()
      .then(() => {
        const handler = handlers[request.method];
        if (!handler) throw new Error(`unknown method ${request.method}`);
        return handler(request.params);
      })
      .then(
        (result) => reply({ id: request.id, ok: true, result }),
        (error: unknown) =>
          reply({ id: request.id, ok: false, error: String((error as Error)?.stack ?? error) }),
      );
  });
  process.once("disconnect", () => {
    onExit();
    process.exit(0);
  });
}
