import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { ErrorCode } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import { WebSocketServer } from "ws";
import type { Admission } from "./admission.js";
import { AuthError, type Identity, type Verifier } from "./auth.js";
import { rejectUpgrade } from "./http-server.js";
import { type Transport, WsTransport } from "./transport.js";

export type UpgradeHandler = (transport: Transport, identity: Identity | undefined) => void;

export type WsEndpointOptions = {
  verify: Verifier;
  maxFrameBytes: number;
  admission: Admission;
  onConnection: UpgradeHandler;
  logger: Logger;
  /** permessage-deflate for clients that ask for it, on frames of at least `thresholdBytes`; off when undefined. */
  compression?: { thresholdBytes: number } | undefined;
};

/**
 * permessage-deflate as offered: without context takeover, so no window carries over between messages. `ws`
 * still keeps each socket's zlib stream from its first compressed frame on (see bench/README.md), which is why
 * compression is off by default.
 */
export function deflateOptions(compression: WsEndpointOptions["compression"]) {
  if (!compression) return false;
  return {
    threshold: compression.thresholdBytes,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  };
}

/**
 * `/ws` upgrades to WebSocket once admission allows it. A token in the query string is verified before the
 * upgrade so a bad one gets a plain 401 and never a socket.
 */
export function attachWebSocket(server: Server, options: WsEndpointOptions): void {
  const wss = new WebSocketServer({
    noServer: true,
    // Connections are tracked by the connector; ws's own set would add a listener per socket.
    clientTracking: false,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: deflateOptions(options.compression),
  });
  const { admission } = options;
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A named function, not a closure: this listener stays for the socket's life, and a closure here would
    // keep the upgrade request (headers, URL with any token) alive with it.
    socket.on("error", destroyOnError);
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== "/ws") return rejectUpgrade(socket, ErrorCode.NotFound, "WebSocket endpoint is /ws");
    const ip = admission.addressOf(request);
    const decision = admission.admit(ip);
    if (!decision.admitted) {
      return rejectUpgrade(socket, decision.code, decision.message, decision.retryAfterSeconds);
    }
    if (decision.waitMs === 0) return open(request, socket, head, url, ip);
    // Its turn comes later: the client waits on an open socket instead of retrying.
    setTimeout(() => {
      if (socket.destroyed) return;
      if (!admission.accepting)
        return rejectUpgrade(socket, ErrorCode.Unavailable, "connector is draining; reconnect");
      open(request, socket, head, url, ip);
    }, decision.waitMs);
  });

  /** Verifies a token given in the URL, then upgrades. */
  function open(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL, ip: string): void {
    const token = url.searchParams.get("token");
    const upgrade = (identity: Identity | undefined) =>
      wss.handleUpgrade(request, socket, head, (ws) => {
        // `ws` has its own error listener on the socket now; a second one would cost the socket an array.
        socket.off("error", destroyOnError);
        const transport = new WsTransport(ws, socket as Socket, options.logger, admission.hold(ip));
        options.onConnection(transport, identity);
      });
    if (token === null) {
      upgrade(undefined);
      return;
    }
    options.verify(token, "connection").then(upgrade, (err: unknown) => {
      const expired = err instanceof AuthError && err.code === ErrorCode.TokenExpired;
      admission.refusedToken(expired);
      rejectUpgrade(
        socket,
        expired ? ErrorCode.TokenExpired : ErrorCode.Unauthorized,
        err instanceof Error ? err.message : "unauthorized",
      );
    });
  }
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}
