import { type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { ErrorCode, HttpStatus } from "@herald/protocol";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { WebSocketServer } from "ws";
import { AuthError, type Identity, type Verifier } from "./auth.js";
import { clientAddress, type ProxyTrust } from "./client-address.js";
import { TokenBucket } from "./rate-limit.js";

/**
 * How often Node looks for requests past their header or request timeout (its default, 30 s, would let a
 * header-dripping client hold a socket that much longer than the timeout).
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

export type UpgradeHandler = (ws: import("ws").WebSocket, identity: Identity | undefined) => void;

export type WsServerOptions = {
  verify: Verifier;
  maxFrameBytes: number;
  /** Refuses new upgrades (503) while draining. */
  accepting: () => boolean;
  onConnection: UpgradeHandler;
  onRefused: (reason: string) => void;
  maxConnectionsPerIp: number;
  maxNewConnectionsPerSecond: number;
  /** Which proxies may name the client in X-Forwarded-For. */
  proxyTrust: ProxyTrust;
  /** Time to send complete request headers, and a whole request (Node's `headersTimeout`, `requestTimeout`). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
};

/**
 * The public HTTP server: hono answers plain HTTP routes; `/ws` upgrades to WebSocket. A token in the query
 * string is verified before the upgrade so a bad one gets a plain 401 and never a socket.
 */
export function createWsServer(options: WsServerOptions): Server {
  const app = new Hono();
  app.get("/", (c) => c.json({ service: "herald-connector", websocket: "/ws" }));
  app.get("/ws", (c) =>
    c.json(
      { error: { code: ErrorCode.UpgradeRequired, message: "connect with a WebSocket" } },
      HttpStatus[ErrorCode.UpgradeRequired] as ContentfulStatusCode,
    ),
  );
  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, options.headersTimeoutMs),
    },
  }) as Server;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
  });
  const perIp = new Map<string, number>();
  const newConnections = new TokenBucket(
    options.maxNewConnectionsPerSecond,
    options.maxNewConnectionsPerSecond,
  );

  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A named function, not a closure: this listener stays for the socket's life, and a closure here would
    // keep the upgrade request (headers, URL with any token) alive with it.
    socket.on("error", destroyOnError);
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== "/ws") return reject(socket, ErrorCode.NotFound, "WebSocket endpoint is /ws");
    if (!options.accepting())
      return reject(socket, ErrorCode.Unavailable, "connector is draining; reconnect");
    const ip = clientAddress(
      request.socket.remoteAddress,
      request.headers["x-forwarded-for"],
      options.proxyTrust,
    );
    if ((perIp.get(ip) ?? 0) >= options.maxConnectionsPerIp) {
      options.onRefused("ip_limit");
      return reject(
        socket,
        ErrorCode.TooManyConnections,
        `at most ${options.maxConnectionsPerIp} connections per address`,
      );
    }
    if (!newConnections.take()) {
      options.onRefused("rate_limit");
      return reject(
        socket,
        ErrorCode.TooManyNewConnections,
        "too many new connections right now; retry shortly",
      );
    }
    const token = url.searchParams.get("token");
    const upgrade = (identity: Identity | undefined) =>
      wss.handleUpgrade(request, socket, head, (ws) => {
        countAddress(perIp, ip, ws);
        options.onConnection(ws, identity);
      });
    if (token === null) return upgrade(undefined);
    options.verify(token, "connection").then(upgrade, (err: unknown) => {
      const expired = err instanceof AuthError && err.code === ErrorCode.TokenExpired;
      options.onRefused(expired ? "expired" : "invalid");
      reject(
        socket,
        expired ? ErrorCode.TokenExpired : ErrorCode.Unauthorized,
        err instanceof Error ? err.message : "unauthorized",
      );
    });
  });
  return server;
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * Counts an open socket against its address until it closes. A function of its own so that the close listener,
 * which lives as long as the socket, holds only `ip`: a closure in the upgrade handler would keep the whole
 * upgrade request (headers, URL with any token) alive for the connection's life.
 */
function countAddress(perIp: Map<string, number>, ip: string, ws: import("ws").WebSocket): void {
  perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
  ws.once("close", () => {
    const left = (perIp.get(ip) ?? 1) - 1;
    if (left > 0) perIp.set(ip, left);
    else perIp.delete(ip);
  });
}

/** Answers a refused upgrade on the raw socket with the code's HTTP status and a JSON error body. */
function reject(socket: Duplex, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const status = HttpStatus[code];
  const statusText = STATUS_CODES[status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
