import type { Server } from "node:http";
import type { Logger } from "@herald/service-kit";
import { Admission } from "./admission.js";
import type { Identity, Verifier } from "./auth.js";
import { type Config, proxyTrust } from "./config.js";
import type { Connections } from "./connections.js";
import { createHttpServer } from "./http-server.js";
import { sseRoutes } from "./sse-server.js";
import { SseTickets } from "./sse-tickets.js";
import type { Transport } from "./transport.js";
import { attachWebSocket } from "./ws-server.js";

export type EdgeServerOptions = {
  config: Config;
  logger: Logger;
  verify: Verifier;
  connections: Connections;
  /** Counts refused connections by reason. */
  onRefused: (reason: string) => void;
  /** False while draining. */
  accepting: () => boolean;
  /** Takes a new client (authenticated already, or due to send an `auth` frame). */
  accept: (transport: Transport, identity: Identity | undefined) => void;
};

/** The public server: WebSocket at `/ws`, the SSE fallback at `/sse`, both behind one admission. */
export function createEdgeServer(o: EdgeServerOptions): Server {
  const { config } = o;
  const admission = new Admission({
    accepting: o.accepting,
    maxConnectionsPerIp: config.HERALD_MAX_CONNECTIONS_PER_IP,
    maxNewConnectionsPerSecond: config.HERALD_MAX_NEW_CONNECTIONS_PER_SECOND,
    newConnectionMaxWaitMs: config.HERALD_NEW_CONNECTION_MAX_WAIT,
    proxyTrust: proxyTrust(config),
    onRefused: o.onRefused,
  });
  const sse = config.HERALD_SSE_ENABLED
    ? sseRoutes({
        verify: o.verify,
        tickets: new SseTickets({
          ttlMs: config.HERALD_SSE_TICKET_TTL,
          maxOutstanding: config.HERALD_SSE_MAX_TICKETS,
        }),
        admission,
        maxFrameBytes: config.HERALD_MAX_FRAME_BYTES,
        connection: (id) => o.connections.get(id),
        onConnection: o.accept,
      })
    : undefined;
  const server = createHttpServer({
    headersTimeoutMs: config.HERALD_HEADERS_TIMEOUT,
    requestTimeoutMs: config.HERALD_REQUEST_TIMEOUT,
    streaming: sse,
  });
  attachWebSocket(server, {
    verify: o.verify,
    maxFrameBytes: config.HERALD_MAX_FRAME_BYTES,
    admission,
    onConnection: o.accept,
    logger: o.logger,
    compression: config.HERALD_WS_COMPRESSION
      ? { thresholdBytes: config.HERALD_WS_COMPRESSION_THRESHOLD }
      : undefined,
  });
  return server;
}
