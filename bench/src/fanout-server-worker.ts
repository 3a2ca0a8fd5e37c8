// The raw ceiling of the fan-out benchmark: a plain `ws` WebSocketServer in its own process that serialises
// each message once and sends that one Buffer to every client, as a connector does for a channel message,
// with no broker, no subscription bookkeeping and no limits.
import { Session } from "node:inspector/promises";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { nowUs } from "./clock.js";
import { fanoutData, fanoutId, rawFrame } from "./fanout-frames.js";
import { paced } from "./pacing.js";
import { serveRpc } from "./worker.js";

export type RawSaturateParams = { runId: string; phase: number; messages: number };
export type RawPacedParams = { runId: string; phase: number; rate: number; durationMs: number };

const clients = new Set<WebSocket>();
let server: WebSocketServer | undefined;
let offset = 0;
let profiler: Session | undefined;

function broadcast(runId: string, phase: number, n: number): void {
  const frame = rawFrame(fanoutId(runId, phase, n), ++offset, fanoutData(phase, n));
  for (const ws of clients) ws.send(frame, { binary: false });
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

serveRpc(
  {
    listen: async () => {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
      server = wss;
      wss.on("connection", (ws) => {
        clients.add(ws);
        ws.on("close", () => clients.delete(ws));
        ws.on("error", () => ws.terminate());
      });
      await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
      return { port: (wss.address() as AddressInfo).port };
    },
    connections: () => clients.size,
    /** `messages` broadcasts back to back, yielding to the event loop between two (as a NATS callback does). */
    saturate: async (params) => {
      const { runId, phase, messages } = params as RawSaturateParams;
      const startUs = nowUs();
      for (let n = 0; n < messages; n++) {
        broadcast(runId, phase, n);
        await nextTick();
      }
      return { startUs, sentUs: nowUs() };
    },
    paced: async (params) => {
      const { runId, phase, rate, durationMs } = params as RawPacedParams;
      const startUs = nowUs();
      const sent = await paced(rate, durationMs, (n) => broadcast(runId, phase, n));
      return { startUs, sent };
    },
    /** The same V8 sampling profiler the connector is profiled with, for a side-by-side comparison. */
    profileStart: async () => {
      profiler = new Session();
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.setSamplingInterval", { interval: 200 });
      await profiler.post("Profiler.start");
      return true;
    },
    profileStop: async () => {
      if (!profiler) return undefined;
      const { profile } = await profiler.post("Profiler.stop");
      profiler.disconnect();
      profiler = undefined;
      return profile;
    },
  },
  () => server?.close(),
);
