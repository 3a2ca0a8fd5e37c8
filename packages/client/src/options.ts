import type { MAX_ACK_IDS as PROTOCOL_MAX_ACK_IDS, CloseCode as ProtocolCloseCode } from "@herald/protocol";
import { InvalidOptionsError } from "./errors.js";
import type { WebSocketConstructor } from "./socket.js";

/** A token, or a function that returns a fresh one; it is called before every connection attempt. */
export type TokenSource = string | (() => string | Promise<string>);

export interface ReconnectOptions {
  /** Upper bound of the first retry delay (full jitter). Default 500 ms. */
  initialDelayMs?: number;
  /** Upper bound of any retry delay. Default 30 s. */
  maxDelayMs?: number;
  /** A connection welcomed and open this long resets the backoff. Default 5 s. */
  stableAfterMs?: number;
}

export interface HeraldClientOptions {
  /** The connector's WebSocket endpoint, e.g. `wss://push.example.com/ws`. */
  url: string;
  token: TokenSource;
  /** WebSocket implementation. Default `globalThis.WebSocket`; on Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Ack each user message after its handlers return. Default true. */
  autoAck?: boolean;
  /** Informational: the device id is taken from the token's `did` claim by the server. */
  deviceId?: string;
  reconnect?: ReconnectOptions;
  /**
   * Send the token in a first `auth` frame (default `true`), which keeps it out of URLs, where proxies and
   * access logs record it. `false` opts in to `?token=` in the URL.
   */
  authInFirstFrame?: boolean;
  /** How many handled message ids to remember to suppress redeliveries. Default 10,000. */
  seenIdsCapacity?: number;
  /** Close codes after which the client never reconnects. Default `[4010, 4012]` (banned, over the connection limit). */
  terminalCloseCodes?: readonly number[];
  /** Close codes meaning "the token is bad or expired". Default `[4001, 4003]`. */
  authCloseCodes?: readonly number[];
  /** How long acks are collected before being sent in one frame. Default 0 (the next macrotask). */
  ackDelayMs?: number;
  /** Refresh a callback-provided token this long before its `exp`. Default 30 s. */
  refreshBeforeExpiryMs?: number;
  /**
   * Give up on a connection that is not welcomed within this time, and retry. Default 20 s: long enough that
   * a connector busy with a reconnect storm finishes the handshake rather than have it retried from scratch.
   */
  welcomeTimeoutMs?: number;
  /** Source of randomness for the backoff, in `[0, 1)`. Default `Math.random`. */
  random?: () => number;
}

/** Application close codes the client reacts to. Typed against the protocol's so they cannot drift apart. */
export const CloseCodes = {
  Normal: 1000 satisfies typeof ProtocolCloseCode.Normal,
  Unauthorized: 4001 satisfies typeof ProtocolCloseCode.Unauthorized,
  TokenExpired: 4003 satisfies typeof ProtocolCloseCode.TokenExpired,
  /** Set by presence for a banned user or device: never reconnect. */
  Banned: 4010 satisfies typeof ProtocolCloseCode.Banned,
  /** Over the per-user connection limit: reconnecting would only push another connection out. */
  ConnectionLimit: 4012 satisfies typeof ProtocolCloseCode.ConnectionLimit,
} as const;

/** Most ids in one ack frame (the server rejects more). */
export const MAX_ACK_IDS = 1000 satisfies typeof PROTOCOL_MAX_ACK_IDS;

export const DEFAULT_TERMINAL_CLOSE_CODES: readonly number[] = [
  CloseCodes.Banned,
  CloseCodes.ConnectionLimit,
];
export const DEFAULT_AUTH_CLOSE_CODES: readonly number[] = [CloseCodes.Unauthorized, CloseCodes.TokenExpired];

export type ResolvedOptions = Required<Omit<HeraldClientOptions, "deviceId" | "reconnect">> & {
  deviceId: string | undefined;
  reconnect: Required<ReconnectOptions>;
};

/** The reconnect policy's defaults (full jitter between 0 and 500 ms · 2^attempt, at most 30 s). */
export const DEFAULT_RECONNECT = { initialDelayMs: 500, maxDelayMs: 30_000, stableAfterMs: 5_000 } as const;
export function resolveOptions(options: HeraldClientOptions): ResolvedOptions {
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (WebSocket === undefined) {
    throw new InvalidOptionsError('no global WebSocket: pass one, e.g. `import WebSocket from "ws"`');
  }
  try {
    const protocol = new URL(options.url).protocol;
    if (protocol !== "ws:" && protocol !== "wss:") throw new Error(protocol);
  } catch {
    throw new InvalidOptionsError(`url must be a ws: or wss: URL, got ${JSON.stringify(options.url)}`);
  }
  if (typeof options.token !== "function" && (typeof options.token !== "string" || options.token === "")) {
    throw new InvalidOptionsError("token must be a non-empty string or a function returning one");
  }
  const resolved: ResolvedOptions = {
    url: options.url,
    token: options.token,
    WebSocket,
    autoAck: options.autoAck ?? true,
    deviceId: options.deviceId,
    reconnect: {
      initialDelayMs: options.reconnect?.initialDelayMs ?? DEFAULT_RECONNECT.initialDelayMs,
      maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULT_RECONNECT.maxDelayMs,
      stableAfterMs: options.reconnect?.stableAfterMs ?? DEFAULT_RECONNECT.stableAfterMs,
    },
    authInFirstFrame: options.authInFirstFrame ?? true,
    seenIdsCapacity: options.seenIdsCapacity ?? 10_000,
    terminalCloseCodes: options.terminalCloseCodes ?? DEFAULT_TERMINAL_CLOSE_CODES,
    authCloseCodes: options.authCloseCodes ?? DEFAULT_AUTH_CLOSE_CODES,
    ackDelayMs: options.ackDelayMs ?? 0,
    refreshBeforeExpiryMs: options.refreshBeforeExpiryMs ?? 30_000,
    welcomeTimeoutMs: options.welcomeTimeoutMs ?? 20_000,
    random: options.random ?? Math.random,
  };
  for (const [name, value] of [
    ["reconnect.initialDelayMs", resolved.reconnect.initialDelayMs],
    ["reconnect.maxDelayMs", resolved.reconnect.maxDelayMs],
    ["reconnect.stableAfterMs", resolved.reconnect.stableAfterMs],
    ["ackDelayMs", resolved.ackDelayMs],
    ["refreshBeforeExpiryMs", resolved.refreshBeforeExpiryMs],
    ["welcomeTimeoutMs", resolved.welcomeTimeoutMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) throw new InvalidOptionsError(`${name} must be a number >= 0`);
  }
  if (!Number.isInteger(resolved.seenIdsCapacity) || resolved.seenIdsCapacity < 1) {
    throw new InvalidOptionsError("seenIdsCapacity must be a positive integer");
  }
  return resolved;
}
