import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode } from "@herald/protocol";
import type { Admission } from "./admission.js";
import { AuthError, type Identity, type Verifier } from "./auth.js";
import type { Connection } from "./connection.js";
import { type RouteHandler, sendError } from "./http-server.js";
import type { SseTickets } from "./sse-tickets.js";
import { SseTransport } from "./sse-transport.js";

export type SseEndpointOptions = {
  verify: Verifier;
  tickets: SseTickets;
  admission: Admission;
  /** Largest POSTed frame, as for a WebSocket frame. */
  maxFrameBytes: number;
  /** The open connection with this id. */
  connection: (connectionId: string) => Connection | undefined;
  onConnection: (transport: SseTransport, identity: Identity) => void;
};

export const SSE_PATH = "/sse";
const TICKET_PATH = "/sse/ticket";
const FRAME_PATH = /^\/sse\/([0-9a-f-]{36})$/;

/** Browsers call from the application's origin; tokens travel in headers, never cookies, so any origin may. */
const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST",
  "Access-Control-Allow-Headers": "Authorization, Content-Type",
  "Access-Control-Max-Age": "600",
} as const;

/**
 * The Server-Sent Events fallback, for networks that block WebSocket. `POST /sse/ticket` (bearer token) gives a
 * short-lived single-use ticket; `GET /sse?ticket=…` opens the event stream (the same frames as the WebSocket);
 * `POST /sse/<connectionId>` (bearer token of the same user and device) carries one client frame. Tickets and
 * tokens are never logged.
 */
export function sseRoutes(options: SseEndpointOptions): RouteHandler {
  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== SSE_PATH && !url.pathname.startsWith(`${SSE_PATH}/`)) return false;
    for (const [name, value] of Object.entries(CORS_HEADERS)) response.setHeader(name, value);
    if (request.method === "OPTIONS") {
      response.writeHead(204).end();
      return true;
    }
    const frame = FRAME_PATH.exec(url.pathname);
    if (request.method === "GET" && url.pathname === SSE_PATH) {
      openStream(options, request, response, url.searchParams.get("ticket"));
    } else if (request.method === "POST" && url.pathname === TICKET_PATH) {
      void issueTicket(options, request, response);
    } else if (request.method === "POST" && frame?.[1] !== undefined) {
      void postFrame(options, request, response, frame[1]);
    } else {
      sendError(
        response,
        ErrorCode.NotFound,
        "SSE endpoints: POST /sse/ticket, GET /sse?ticket=, POST /sse/<id>",
      );
    }
    return true;
  };
}

async function issueTicket(o: SseEndpointOptions, request: IncomingMessage, response: ServerResponse) {
  request.resume();
  if (!o.admission.accepting)
    return sendError(response, ErrorCode.Unavailable, "connector is draining; reconnect");
  const identity = await verifyBearer(o, request, response);
  if (!identity) return;
  const issued = o.tickets.issue(identity);
  if (!issued) {
    return sendError(response, ErrorCode.TooManyNewConnections, "too many pending tickets; retry shortly");
  }
  const body = JSON.stringify({ ticket: issued.ticket, expiresInMs: issued.expiresInMs, stream: SSE_PATH });
  response.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" }).end(body);
}

function openStream(
  o: SseEndpointOptions,
  request: IncomingMessage,
  response: ServerResponse,
  ticket: string | null,
) {
  const ip = o.admission.addressOf(request);
  const decision = o.admission.admit(ip);
  if (!decision.admitted) {
    return sendError(response, decision.code, decision.message, decision.retryAfterSeconds);
  }
  if (decision.waitMs === 0) return startStream(o, request, response, ticket, ip);
  setTimeout(() => {
    if (response.destroyed) return;
    if (!o.admission.accepting)
      return sendError(response, ErrorCode.Unavailable, "connector is draining; reconnect");
    startStream(o, request, response, ticket, ip);
  }, decision.waitMs);
}

function startStream(
  o: SseEndpointOptions,
  request: IncomingMessage,
  response: ServerResponse,
  ticket: string | null,
  ip: string,
) {
  const identity = ticket === null ? undefined : o.tickets.redeem(ticket);
  if (!identity) {
    o.admission.refusedToken(false);
    return sendError(response, ErrorCode.Unauthorized, "unknown, used or expired ticket; get a new one");
  }
  // A stream is idle between frames for as long as it lives: no socket idle timeout (pings keep proxies happy).
  request.socket.setTimeout(0);
  const slot = o.admission.hold(ip);
  response.once("close", () => slot.release());
  o.onConnection(new SseTransport(response), identity);
}

async function postFrame(
  o: SseEndpointOptions,
  request: IncomingMessage,
  response: ServerResponse,
  connectionId: string,
): Promise<void> {
  const connection = o.connection(connectionId);
  const transport = connection?.transport;
  if (!connection?.identity || !(transport instanceof SseTransport)) {
    request.resume();
    return sendError(response, ErrorCode.NotFound, "no open SSE connection with this id; reconnect");
  }
  const body = await readBody(request, o.maxFrameBytes);
  if (body === undefined) {
    response.setHeader("Connection", "close");
    return sendError(response, ErrorCode.TooLarge, `a frame may be at most ${o.maxFrameBytes} bytes`);
  }
  const token = bearer(request);
  if (token === undefined || token !== transport.verifiedToken) {
    const identity = await verifyBearer(o, request, response);
    if (!identity) return;
    const owner = connection.identity;
    if (identity.userId !== owner.userId || identity.deviceId !== owner.deviceId) {
      return sendError(response, ErrorCode.Forbidden, "the token is for another user or device");
    }
    transport.verifiedToken = token;
  }
  transport.receive(body);
  response.writeHead(202, { "Cache-Control": "no-store" }).end();
}

/** The request's bearer token, verified; on failure the response is sent (401) and undefined returned. */
async function verifyBearer(
  o: SseEndpointOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<Identity | undefined> {
  const token = bearer(request);
  if (token === undefined) {
    sendError(response, ErrorCode.Unauthorized, "send the token as Authorization: Bearer <token>");
    return undefined;
  }
  try {
    return await o.verify(token, "connection");
  } catch (err) {
    const expired = err instanceof AuthError && err.code === ErrorCode.TokenExpired;
    o.admission.refusedToken(expired);
    sendError(
      response,
      expired ? ErrorCode.TokenExpired : ErrorCode.Unauthorized,
      err instanceof Error ? err.message : "unauthorized",
    );
    return undefined;
  }
}

function bearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** The body as text, or undefined once it passes `maxBytes` (the rest is then discarded). */
function readBody(request: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (Number(request.headers["content-length"] ?? 0) > maxBytes) {
      request.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    request.on("end", () => resolve(size > maxBytes ? undefined : Buffer.concat(chunks).toString("utf8")));
    request.on("error", () => resolve(undefined));
  });
}
