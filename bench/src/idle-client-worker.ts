// Idle load generator: one process holding a share of the idle connections (Herald clients that authenticate
// and then only answer pings, plain `ws` sockets, or Socket.IO clients). Nothing is sent after the handshake,
// so the servers are measured holding connections, not moving messages; in the active phase Herald clients ack
// what they receive.
import { type AckFrame, MAX_ACK_IDS, type ServerFrame } from "@herald/protocol";
import { io, type Socket } from "socket.io-client";
import WebSocket from "ws";
import { openInLanes } from "./pacing.js";
import { ScaleTally } from "./scale-tally.js";
import { serveRpc } from "./worker.js";

export type IdleMode = "herald" | "ws" | "sio";
export type IdleTarget = { url: string; localAddress: string; user: string };
export type IdleConnectParams = {
  mode: IdleMode;
  targets: IdleTarget[];
  concurrency: number;
  timeoutMs: number;
  /** Herald: count the scale part's broadcast and targeted messages (`ScaleTally`) and ack user messages. */
  tally?: boolean;
};
export type IdleConnectResult = { connected: number; failed: number; closedEarly: number; error?: string };

type Client = { close: () => void };
let clients: Client[] = [];
let closedEarly = 0;
const tally = new ScaleTally();

let delivered = 0;

/**
 * A Herald client acks every `message` as the SDK does: the ids of one macrotask in one `ack` frame. Only used
 * when the part makes its connections receive (the active phase); an idle one never gets a message.
 */
function acker(ws: WebSocket): (id: string) => void {
  let pending: string[] = [];
  const flush = () => {
    const ids = pending;
    pending = [];
    for (let k = 0; k < ids.length && ws.readyState === WebSocket.OPEN; k += MAX_ACK_IDS) {
      const frame: AckFrame = { type: "ack", ids: ids.slice(k, k + MAX_ACK_IDS) };
      ws.send(JSON.stringify(frame));
    }
  };
  return (id) => {
    if (pending.length === 0) setTimeout(flush, 0);
    pending.push(id);
  };
}

/** A WebSocket client, ready when open (`ws`) or once the connector's `welcome` arrived (Herald). */
function openWs(mode: IdleMode, target: IdleTarget, timeoutMs: number, counted: boolean): Promise<Client> {
  const ws = new WebSocket(target.url, { perMessageDeflate: false, localAddress: target.localAddress });
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${target.user} not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const becomeReady = () => {
      ready = true;
      clearTimeout(timer);
      if (counted) {
        const k = tally.add();
        ws.on("message", (raw: Buffer) => {
          const ack = tally.receive(k, raw.toString());
          if (ack) ws.send(ack);
        });
      }
      resolve({
        close: () => {
          ready = false; // closed by us: not counted as closed early
          ws.terminate();
        },
      });
    };
    let ack: ((id: string) => void) | undefined;
    if (mode === "ws") ws.once("open", becomeReady);
    else
      ws.on("message", (raw: Buffer) => {
        const text = raw.toString();
        if (ready) {
          const frame = JSON.parse(text) as ServerFrame;
          if (frame.type === "message" && "seq" in frame) {
            delivered++;
            ack ??= acker(ws);
            ack(frame.id);
          }
          return;
        }
        if (text.includes('"type":"welcome"')) return becomeReady();
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`${target.user}: expected welcome, got ${text.slice(0, 200)}`));
      });
    ws.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on("close", (code) => {
      if (ready) closedEarly++;
      clearTimeout(timer);
      reject(new Error(`${target.user} closed (${code}) before it was ready`));
    });
  });
}

/** A Socket.IO client over WebSocket only, ready once connected (its server joins it to the user's room). */
function openSio(target: IdleTarget, timeoutMs: number): Promise<Client> {
  const socket: Socket = io(target.url, {
    transports: ["websocket"],
    auth: { u: target.user },
    reconnection: false,
    timeout: timeoutMs,
    localAddress: target.localAddress,
  } as Parameters<typeof io>[1]);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => {
      socket.once("disconnect", (reason) => {
        if (reason !== "io client disconnect") closedEarly++;
      });
      resolve({ close: () => socket.disconnect() });
    });
    socket.once("connect_error", (error) => {
      socket.disconnect();
      reject(error);
    });
  });
}

async function connectAll(params: IdleConnectParams): Promise<IdleConnectResult> {
  const open = (target: (typeof params.targets)[number]) =>
    params.mode === "sio"
      ? openSio(target, params.timeoutMs)
      : openWs(params.mode, target, params.timeoutMs, params.tally === true);
  const outcome = await openInLanes(params.targets, params.concurrency, open, (c) => clients.push(c));
  return { connected: clients.length, closedEarly, ...outcome };
}

function closeAll(): void {
  for (const client of clients) client.close();
  clients = [];
  closedEarly = 0;
  tally.clear();
  delivered = 0;
}

serveRpc(
  {
    connect: (params) => connectAll(params as IdleConnectParams),
    /** Connections that closed after they were ready (a server that dropped idle clients). */
    closedEarly: () => closedEarly,
    /** What the tallied clients received (`tally: true`). */
    received: () => tally.snapshot(),
    /** Herald `message` frames received (each acked). */
    delivered: () => delivered,
    close: () => {
      closeAll();
      return true;
    },
  },
  closeAll,
);
