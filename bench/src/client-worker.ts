// Load generator: one process holding many client connections (raw `ws` for Herald and the ws baseline,
// socket.io-client for Socket.IO). Kept lean on purpose: the benchmark should measure the servers.

import type { Socket as NetSocket } from "node:net";
import type { AckFrame, ServerFrame } from "@herald/protocol";
import { MAX_ACK_IDS } from "@herald/protocol";
import { io, type Socket } from "socket.io-client";
import WebSocket from "ws";
import { type BenchData, nowUs } from "./clock.js";
import { openInLanes } from "./pacing.js";
import { Tally } from "./tally.js";
import { serveRpc } from "./worker.js";

export type ClientMode = "herald" | "ws" | "sio";
export type ClientTarget = { url: string; user: string };
export type ConnectParams = {
  mode: ClientMode;
  targets: ClientTarget[];
  concurrency: number;
  timeoutMs: number;
  /** Herald clients offer permessage-deflate (`ws`'s defaults) when true. */
  deflate?: boolean;
};
/** Bytes the Herald sockets' TCP connections carried so far, and how many negotiated permessage-deflate. */
export type WireStats = { sockets: number; deflate: number; bytesRead: number; bytesWritten: number };
export type ResetParams = { phase: number; messages: number; recordLatencies: boolean };

type Closable = { close: () => void };

const tally = new Tally();
const connections: Closable[] = [];
/** Herald sockets, for `wire`: what went over TCP, frame headers and compression included. */
const heraldSockets: WebSocket[] = [];
let errorFrames = 0;
let closedEarly = 0;

/** Herald: wait for `welcome`; ack user messages in one frame per macrotask, as the SDK does. */
function openHerald(target: ClientTarget, timeoutMs: number, deflate = false): Promise<Closable> {
  const ws = new WebSocket(target.url, { perMessageDeflate: deflate });
  heraldSockets.push(ws);
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    while (pending.length > 0 && ws.readyState === WebSocket.OPEN) {
      const frame: AckFrame = { type: "ack", ids: pending.splice(0, MAX_ACK_IDS) };
      ws.send(JSON.stringify(frame));
    }
    pending = [];
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no welcome within ${timeoutMs} ms`)), timeoutMs);
    ws.on("message", (raw) => {
      const frame = JSON.parse(raw.toString()) as ServerFrame;
      if (frame.type === "message" && "seq" in frame) {
        // `ts` is when the intake stream stored the publish: it splits the latency at the first hop.
        tally.receive(frame.data as BenchData, nowUs(), frame.ts);
        pending.push(frame.id);
        if (!scheduled) {
          scheduled = true;
          setTimeout(flush, 0);
        }
      } else if (frame.type === "welcome") {
        clearTimeout(timer);
        resolve({ close: () => ws.close() });
      } else if (frame.type === "error") {
        errorFrames++;
      }
    });
    ws.on("error", (error) => reject(error));
    ws.on("close", () => {
      closedEarly++;
      clearTimeout(timer);
      reject(new Error("closed before welcome"));
    });
  });
}

/** Raw ws baseline: frames shaped like Herald's `message`, no acks. */
function openRaw(target: ClientTarget, timeoutMs: number): Promise<Closable> {
  const ws = new WebSocket(target.url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not open within ${timeoutMs} ms`)), timeoutMs);
    ws.on("message", (raw) => {
      const frame = JSON.parse(raw.toString()) as { data?: BenchData };
      tally.receive(frame.data, nowUs());
    });
    ws.on("open", () => {
      clearTimeout(timer);
      resolve({ close: () => ws.close() });
    });
    ws.on("error", (error) => reject(error));
    ws.on("close", () => {
      closedEarly++;
    });
  });
}

function openSocketIo(target: ClientTarget, timeoutMs: number): Promise<Closable> {
  const socket: Socket = io(target.url, {
    transports: ["websocket"],
    auth: { u: target.user },
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    socket.on("m", (frame: { data?: BenchData }) => tally.receive(frame.data, nowUs()));
    socket.once("connect", () => resolve({ close: () => socket.close() }));
    socket.once("connect_error", (error) => reject(error));
    socket.on("disconnect", () => {
      closedEarly++;
    });
  });
}

async function connectAll(
  params: ConnectParams,
): Promise<{ connected: number; failed: number; error?: string }> {
  const open = {
    herald: (target: ClientTarget, timeoutMs: number) => openHerald(target, timeoutMs, params.deflate),
    ws: openRaw,
    sio: openSocketIo,
  }[params.mode];
  const outcome = await openInLanes(
    params.targets,
    params.concurrency,
    (target) => open(target, params.timeoutMs),
    (c) => connections.push(c),
  );
  return { connected: connections.length, ...outcome };
}

/** `ws` keeps its TCP socket in `_socket` (not typed): its byte counters are what went over the wire. */
function wireStats(): WireStats {
  const stats: WireStats = { sockets: 0, deflate: 0, bytesRead: 0, bytesWritten: 0 };
  for (const ws of heraldSockets) {
    const socket = (ws as unknown as { _socket?: NetSocket })._socket;
    if (!socket) continue;
    stats.sockets++;
    if (ws.extensions.includes("permessage-deflate")) stats.deflate++;
    stats.bytesRead += socket.bytesRead;
    stats.bytesWritten += socket.bytesWritten;
  }
  return stats;
}

serveRpc(
  {
    connect: (params) => connectAll(params as ConnectParams),
    reset: (params) => {
      const { phase, messages, recordLatencies } = params as ResetParams;
      tally.reset(phase, messages, recordLatencies);
      return true;
    },
    stats: (params) => ({
      ...tally.snapshot(Boolean((params as { latencies?: boolean }).latencies)),
      errorFrames,
      closedEarly,
    }),
    wire: () => wireStats(),
    close: () => {
      for (const connection of connections.splice(0)) connection.close();
      heraldSockets.length = 0;
      return true;
    },
  },
  () => {
    for (const connection of connections.splice(0)) connection.close();
  },
);
