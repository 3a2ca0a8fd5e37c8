import { closeReason } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import WebSocket from "ws";

/** How a client is connected: the connection's protocol is the same over both. */
export type TransportKind = "websocket" | "sse";

/** What a transport tells its connection: methods of one object (the connection), so no closures per socket. */
export interface TransportEvents {
  /** One client frame's text (`binary`: it came as a binary WebSocket frame, which is refused). */
  onFrame(text: string, binary: boolean): void;
  /** The client answered a keep-alive ping. */
  onPong(): void;
  /** The transport is gone; called once. */
  onGone(): void;
}

/** How long a client that never answers the close handshake keeps its socket. */
const CLOSE_GRACE_MS = 5_000;

/**
 * One client's link: a WebSocket, or an SSE stream with POSTs. Frames out are whole JSON texts; frames in
 * arrive as `message` events. `close` is graceful (a close code the client sees); `terminate` is not.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** True while frames can be sent. */
  readonly open: boolean;
  /** Bytes written but not yet handed to the network. */
  readonly bufferedAmount: number;
  listen(events: TransportEvents): void;
  send(frame: string | Buffer): void;
  close(code: number, reason: string): void;
  terminate(): void;
  /** Keep-alive: a live client answers with a `pong` event. */
  ping(): void;
}

/** A `ws` socket as a transport. */
export class WsTransport implements Transport {
  readonly kind = "websocket";
  events: TransportEvents | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly logger: Logger,
  ) {}

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  listen(events: TransportEvents): void {
    // Shared listeners that find the transport on the socket: closures here would be made for every socket.
    (this.ws as WsWithTransport)[TRANSPORT] = this;
    this.events = events;
    this.ws.on("message", onWsMessage);
    this.ws.on("pong", onWsPong);
    this.ws.on("close", onWsClose);
    this.ws.on("error", onWsError);
  }

  send(frame: string | Buffer): void {
    // A Buffer is a frame serialised once for many sockets; it is still a text frame.
    this.ws.send(frame, { binary: false });
  }

  /** Closes with `code` and `reason`, cut to what a close frame holds (123 UTF-8 bytes); never throws. */
  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try {
        this.ws.close(code, closeReason(reason));
      } catch (err) {
        // An invalid code can only come from a bug: the socket still goes, by terminate.
        this.logger.error({ err, code }, "could not close the socket cleanly; terminating it");
        this.ws.terminate();
      }
    }
    // A peer that never answers the close handshake must not hold the socket forever.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  terminate(): void {
    this.ws.terminate();
  }

  ping(): void {
    this.ws.ping();
  }
}

const TRANSPORT = Symbol("herald.transport");
type WsWithTransport = WebSocket & { [TRANSPORT]?: WsTransport };

function onWsMessage(this: WsWithTransport, data: WebSocket.RawData, isBinary: boolean): void {
  this[TRANSPORT]?.events?.onFrame(data.toString(), isBinary);
}

function onWsPong(this: WsWithTransport): void {
  this[TRANSPORT]?.events?.onPong();
}

function onWsClose(this: WsWithTransport): void {
  this[TRANSPORT]?.events?.onGone();
}

function onWsError(this: WsWithTransport, err: Error): void {
  this[TRANSPORT]?.logger.debug({ err }, "socket error");
}
