// Storm load generator: one process holding a share of the storm's clients, each a real `HeraldClient` (the
// SDK's reconnect policy: full-jitter exponential backoff), or for the raw `ws` baseline a bare `ws` socket with
// the same policy. Its WebSocket stands in for a load balancer that has already taken the killed server out: the
// first connection goes to the victim, every later one to a random survivor. It records when each client
// (re)connected and when each message reached the app.
import { backoffDelay, DEFAULT_RECONNECT, HeraldClient, type WebSocketConstructor } from "@herald/client";
import WebSocket from "ws";
import { nowUs } from "./clock.js";
import { openInLanes } from "./pacing.js";
import { serveRpc } from "./worker.js";

export type StormClientSpec = { user: number; token: string; localAddress: string };
export type StormConnectParams = {
  /** `ws://127.0.0.1:<victim port>/ws`. */
  url: string;
  survivorPorts: number[];
  clients: StormClientSpec[];
  concurrency: number;
  /** `raw`: the baseline's bare `ws` clients (no auth, no protocol) against plain `ws` servers. */
  mode?: "herald" | "raw";
};
export type StormStatus = { clients: number; connected: number; reconnectedSince: number };
/** Per client: its user, every welcome after `sinceUs`, and `[seq, receivedUs]` of each message's first delivery. */
export type StormClientReport = {
  user: number;
  connectedUs: number[];
  /** When each connection after `sinceUs` ended (the first: when the client saw the kill). */
  disconnectedUs: number[];
  received: number[];
};
export type StormReport = {
  clients: StormClientReport[];
  duplicates: number;
  errors: number;
  /** Why connections ended after `sinceUs` (close code and reason), counted. */
  endings: Record<string, number>;
};

/** What the pool asks of a client, Herald's SDK or the raw baseline's. */
type StormClient = { readonly state: string; close(): Promise<void> };

type Tracked = {
  client: StormClient;
  user: number;
  connectedUs: number[];
  disconnected: { us: number; why: string }[];
  received: number[];
  seen: Set<number>;
};

let tracked: Tracked[] = [];

function trackedClient(client: StormClient, user: number): Tracked {
  return { client, user, connectedUs: [], disconnected: [], received: [], seen: new Set() };
}
let duplicates = 0;
let errors = 0;

/** A `ws` WebSocket bound to `localAddress`: first to the URL the SDK asks for, then to a survivor. */
function routedWebSocket(localAddress: string, survivorPorts: number[]): WebSocketConstructor {
  let attempts = 0;
  return class RoutedWebSocket extends WebSocket {
    constructor(url: string) {
      const target = new URL(url);
      if (attempts++ > 0)
        target.port = String(survivorPorts[Math.floor(Math.random() * survivorPorts.length)] ?? target.port);
      super(target, { localAddress, perMessageDeflate: false });
    }
  } as unknown as WebSocketConstructor;
}

/**
 * A bare `ws` client for the baseline: resolves once first open; after a close it dials a survivor again after
 * the SDK's full-jitter backoff with its defaults (reset by an open), so both systems' clients come back at the
 * same pace.
 */
function openRaw(params: StormConnectParams, spec: StormClientSpec): Promise<Tracked> {
  const Routed = routedWebSocket(spec.localAddress, params.survivorPorts) as unknown as new (
    url: string,
  ) => WebSocket;
  const url = `${params.url}?u=${spec.user}`;
  let socket: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let attempt = 0;
  const client = {
    state: "connecting",
    close: async () => {
      closed = true;
      clearTimeout(timer);
      socket?.terminate();
    },
  };
  const t = trackedClient(client, spec.user);
  return new Promise((resolve, reject) => {
    const dial = () => {
      const ws = new Routed(url);
      socket = ws;
      ws.on("open", () => {
        client.state = "connected";
        attempt = 0;
        t.connectedUs.push(nowUs());
        resolve(t);
      });
      ws.on("error", () => {
        errors++;
      });
      ws.on("close", (code, reason) => {
        if (client.state === "connected")
          t.disconnected.push({ us: nowUs(), why: `${code} ${reason}`.slice(0, 80) });
        client.state = "connecting";
        if (closed) return;
        if (t.connectedUs.length === 0) reject(new Error(`closed before the first open (${code})`));
        else timer = setTimeout(dial, backoffDelay(attempt++, DEFAULT_RECONNECT));
      });
    };
    dial();
  });
}

function open(params: StormConnectParams, spec: StormClientSpec): Promise<Tracked> {
  if (params.mode === "raw") return openRaw(params, spec);
  const client = new HeraldClient({
    url: params.url,
    token: spec.token,
    WebSocket: routedWebSocket(spec.localAddress, params.survivorPorts),
    // A Node client: no SSE fallback (it would bypass the stand-in load balancer).
    transport: "websocket",
  });
  const t = trackedClient(client, spec.user);
  client.on("disconnected", (event) => {
    t.disconnected.push({ us: nowUs(), why: `${event.code} ${event.reason}`.slice(0, 80) });
  });
  client.on("connected", () => {
    t.connectedUs.push(nowUs());
  });
  client.on("error", () => {
    errors++;
  });
  client.on("message", (message) => {
    const seq = (message.data as { s?: unknown } | null)?.s;
    if (typeof seq !== "number") return;
    // The app's view: what the SDK hands over twice despite its seen-ids.
    if (t.seen.has(seq)) duplicates++;
    else {
      t.seen.add(seq);
      t.received.push(seq, nowUs());
    }
  });
  return client.connect().then(() => t);
}

async function connectAll(params: StormConnectParams) {
  const outcome = await openInLanes(
    params.clients,
    params.concurrency,
    (spec) => open(params, spec),
    (t) => tracked.push(t),
  );
  return { connected: tracked.length, ...outcome };
}

function status(sinceUs: number): StormStatus {
  let connected = 0;
  let reconnectedSince = 0;
  for (const t of tracked) {
    if (t.client.state === "connected") connected++;
    const last = t.connectedUs[t.connectedUs.length - 1] ?? 0;
    if (last > sinceUs && t.client.state === "connected") reconnectedSince++;
  }
  return { clients: tracked.length, connected, reconnectedSince };
}

function report(sinceUs: number): StormReport {
  const endings: Record<string, number> = {};
  const clients = tracked.map((t) => {
    const ended = t.disconnected.filter((d) => d.us > sinceUs);
    for (const d of ended) endings[d.why] = (endings[d.why] ?? 0) + 1;
    return {
      user: t.user,
      connectedUs: t.connectedUs.filter((us) => us > sinceUs),
      disconnectedUs: ended.map((d) => d.us),
      received: t.received,
    };
  });
  return { clients, duplicates, errors, endings };
}

async function closeAll(): Promise<void> {
  const all = tracked;
  tracked = [];
  duplicates = 0;
  errors = 0;
  await Promise.all(all.map((t) => t.client.close().catch(() => undefined)));
}

serveRpc(
  {
    connect: (params) => connectAll(params as StormConnectParams),
    status: (params) => status((params as { sinceUs: number }).sinceUs),
    // What the catch-up polls, far cheaper than a report: each client's `received` holds [seq, µs] pairs.
    firstDeliveries: () => tracked.reduce((sum, t) => sum + t.received.length / 2, 0),
    report: (params) => report((params as { sinceUs: number }).sinceUs),
    close: async () => {
      await closeAll();
      return true;
    },
  },
  () => {
    for (const t of tracked) void t.client.close();
  },
);
