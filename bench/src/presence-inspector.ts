import WebSocket from "ws";

/** Raised when the inspector of a process cannot be reached or answers with an error. */
export class InspectorError extends Error {
  override name = "InspectorError";
  readonly code = "bench_inspector";
}

export type HeapAfterGc = { heapUsed: number; rss: number; external: number; arrayBuffers: number };

/** The `ws://` URL a process started with `--inspect=127.0.0.1:0` printed, from its output lines. */
export function inspectorUrl(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const match = /Debugger listening on (ws:\/\/\S+)/.exec(line);
    if (match?.[1]) return match[1];
  }
  return undefined;
}

/**
 * Forces a full garbage collection in another Node process through its inspector, then reads its
 * `process.memoryUsage()`: the live heap of a real service, without garbage waiting for the next GC.
 *
 * @example
 * const memory = await heapAfterGc(inspectorUrl(service.logs())!);
 */
export async function heapAfterGc(url: string, timeoutMs = 30_000): Promise<HeapAfterGc> {
  const { call, close } = await inspect(url, timeoutMs);
  try {
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.collectGarbage");
    const result = await call("Runtime.evaluate", {
      expression: "JSON.stringify(process.memoryUsage())",
      returnByValue: true,
    });
    const value = (result.result as { value?: unknown } | undefined)?.value;
    if (typeof value !== "string")
      throw new InspectorError(`memoryUsage: unexpected ${JSON.stringify(result)}`);
    return JSON.parse(value) as HeapAfterGc;
  } finally {
    close();
  }
}

/**
 * Starts the V8 CPU profiler in another process; the returned function stops it and gives the profile
 * (`.cpuprofile` JSON, for Chrome DevTools). A diagnostic for `BENCH_PRESENCE_PROFILE`.
 */
export async function startCpuProfile(url: string): Promise<() => Promise<unknown>> {
  const { call, close } = await inspect(url, 60_000);
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  await call("Profiler.start");
  return async () => {
    try {
      return (await call("Profiler.stop")).profile;
    } finally {
      close();
    }
  };
}

async function inspect(url: string, timeoutMs: number) {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", (error) => reject(new InspectorError(`inspector ${url}: ${error.message}`)));
  });
  let nextId = 1;
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new InspectorError(`${method}: no answer`)), timeoutMs);
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(data.toString()) as {
          id?: number;
          result?: Record<string, unknown>;
          error?: { message: string };
        };
        if (message.id !== id) return;
        clearTimeout(timer);
        ws.off("message", onMessage);
        if (message.error) reject(new InspectorError(`${method}: ${message.error.message}`));
        else resolve(message.result ?? {});
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, close: () => ws.close() };
}
