// Fan-out load generator: one process holding a share of the 10,000 subscribers (Herald channel subscribers,
// or plain sockets of the raw ws baseline). It only counts and times what arrives, and sends nothing after
// subscribing, so both servers are measured doing the same thing.
import WebSocket from "ws";
import { nowUs } from "./clock.js";
import { readFanoutData } from "./fanout-frames.js";
import { FanoutTally } from "./fanout-tally.js";
import { serveRpc } from "./worker.js";

export type FanoutMode = "herald" | "raw";
export type FanoutTarget = { url: string; localAddress: string };
export type FanoutConnectParams = {
  mode: FanoutMode;
  targets: FanoutTarget[];
  /** Herald: the channel each client subscribes to. */
  channel: string;
  concurrency: number;
  timeoutMs: number;
};
export type FanoutResetParams = { mode: FanoutMode; phase: number; messages: number; record: boolean };
export type FanoutStatsParams = { mode: FanoutMode; latencies?: boolean };
export type FanoutConnectResult = { connected: number; failed: number; error?: string };

/** Herald's and the raw server's clients are open at the same time, so their rounds can alternate. */
type Group = { sockets: WebSocket[]; tally: FanoutTally };
const groups = new Map<FanoutMode, Group>();
let closedEarly = 0;
let errorFrames = 0;

/** Opens client `k`; resolves once it can receive: raw when open, Herald once `subscribed` arrived. */
function open(
  k: number,
  mode: FanoutMode,
  tally: FanoutTally,
  target: FanoutTarget,
  channel: string,
  timeoutMs: number,
) {
  const ws = new WebSocket(target.url, {
    perMessageDeflate: false,
    localAddress: target.localAddress,
    skipUTF8Validation: true,
  });
  return new Promise<WebSocket>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`client ${k} not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const becomeReady = () => {
      ready = true;
      clearTimeout(timer);
      resolve(ws);
    };
    ws.on("message", (raw: Buffer) => {
      const text = raw.toString();
      if (ready) {
        const data = readFanoutData(text);
        if (data) tally.receive(k, data, nowUs());
        else if (text.includes('"type":"error"')) errorFrames++;
        return;
      }
      const frame = JSON.parse(text) as { type?: string; code?: string; message?: string };
      if (frame.type === "welcome") ws.send(JSON.stringify({ type: "subscribe", channel }));
      else if (frame.type === "subscribed") becomeReady();
      else if (frame.type === "error") {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`client ${k}: ${frame.code}: ${frame.message}`));
      }
    });
    if (mode === "raw") ws.on("open", becomeReady);
    ws.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on("close", (code) => {
      if (ready) closedEarly++;
      clearTimeout(timer);
      reject(new Error(`client ${k} closed (${code}) before it was ready`));
    });
  });
}

async function connectAll(params: FanoutConnectParams): Promise<FanoutConnectResult> {
  const opened: WebSocket[] = new Array(params.targets.length);
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const tally = new FanoutTally(params.targets.length);
  // A bounded number of handshakes at once: the connect storm is not what this measures.
  const lane = async () => {
    while (next < params.targets.length) {
      const k = next++;
      const target = params.targets[k];
      if (!target) break;
      try {
        opened[k] = await open(k, params.mode, tally, target, params.channel, params.timeoutMs);
      } catch (error) {
        failed++;
        firstError ??= String((error as Error)?.message ?? error);
      }
    }
  };
  await Promise.all(Array.from({ length: params.concurrency }, lane));
  const sockets = opened.filter((ws) => ws !== undefined);
  groups.set(params.mode, { sockets, tally });
  return { connected: sockets.length, failed, ...(firstError ? { error: firstError } : {}) };
}

function closeAll(): Promise<void> {
  const all = [...groups.values()].flatMap((group) => group.sockets);
  groups.clear();
  const closed = all.map(
    (ws) =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        ws.close();
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 3_000).unref();
      }),
  );
  return Promise.all(closed).then(() => undefined);
}

function groupOf(mode: FanoutMode): Group {
  const group = groups.get(mode);
  if (!group) throw new Error(`no ${mode} clients connected`);
  return group;
}

serveRpc(
  {
    connect: (params) => connectAll(params as FanoutConnectParams),
    reset: (params) => {
      const { mode, phase, messages, record } = params as FanoutResetParams;
      groupOf(mode).tally.reset(phase, messages, record);
      return true;
    },
    stats: (params) => {
      const { mode, latencies } = params as FanoutStatsParams;
      return { ...groupOf(mode).tally.snapshot(Boolean(latencies)), closedEarly, errorFrames };
    },
    close: async () => {
      await closeAll();
      closedEarly = 0;
      errorFrames = 0;
      return true;
    },
  },
  () => {
    for (const group of groups.values()) for (const ws of group.sockets) ws.terminate();
  },
);
