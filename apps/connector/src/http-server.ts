import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { Duplex } from "node:stream";
import { ErrorCode, HttpStatus } from "@herald/protocol";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * How often Node looks for requests past their header or request timeout (its default, 30 s, would let a
 * header-dripping client hold a socket that much longer than the timeout).
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Answers a request it recognises (true), or leaves it to the other routes (false). */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

export type HttpServerOptions = {
  /** Time to send complete request headers, and a whole request (Node's `headersTimeout`, `requestTimeout`). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Routes served on the raw response (the SSE endpoints stream, which hono's fetch model does not suit). */
  streaming?: RouteHandler | undefined;
};

/** The public HTTP server: plain routes by hono, streaming routes on the raw response; upgrades are attached. */
export function createHttpServer(options: HttpServerOptions): Server {
  const app = new Hono();
  app.get("/", (c) => c.json({ service: "herald-connector", websocket: "/ws", sse: "/sse" }));
  app.get("/ws", (c) =>
    c.json(
      { error: { code: ErrorCode.UpgradeRequired, message: "connect with a WebSocket" } },
      HttpStatus[ErrorCode.UpgradeRequired] as ContentfulStatusCode,
    ),
  );
  const routes = getRequestListener(app.fetch);
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, options.headersTimeoutMs),
    },
    (request, response) => {
      if (options.streaming?.(request, response)) return;
      void routes(request, response);
    },
  );
  return server;
}

/** The JSON error body every refusal carries. */
export function errorBody(code: ErrorCode, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** Answers a request with the code's HTTP status and a JSON error body (and `Retry-After` when given). */
export function sendError(
  response: ServerResponse,
  code: ErrorCode,
  message: string,
  retryAfterSeconds?: number,
): void {
  const body = errorBody(code, message);
  response.writeHead(HttpStatus[code], {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    ...(retryAfterSeconds === undefined ? {} : { "Retry-After": String(retryAfterSeconds) }),
  });
  response.end(body);
}

/** Answers a refused upgrade on the raw socket with the code's HTTP status and a JSON error body. */
export function rejectUpgrade(
  socket: Duplex,
  code: ErrorCode,
  message: string,
  retryAfterSeconds?: number,
): void {
  const body = errorBody(code, message);
  const status = HttpStatus[code];
  const statusText = STATUS_CODES[status] ?? "Error";
  const retryAfter = retryAfterSeconds === undefined ? "" : `Retry-After: ${retryAfterSeconds}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retryAfter}Connection: close\r\n\r\n${body}`,
  );
}
