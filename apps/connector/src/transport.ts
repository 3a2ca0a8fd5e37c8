import { closeReason } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import WebSocket from "ws";

/** How a client is connected: the connection's protocol is the same over both. */
export type TransportKind = "websocket" | "sse";

/** What a transport tells its connection: methods of one object (the connection), so no closures per socket. */
export interface TransportEvents {
  /** One client frame's text (`binary`: it came as a binary WebSocket frame, which is refused). */
  onFrame(text: string, binary: boolean): void;
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
  /**
   * Keep-alive, called once per ping interval: false when the client showed no sign of life since the last call
   * (the caller then ends it), otherwise true, and the client is pinged again.
   */
  keepAlive(): boolean;
}

/** What `WsTransport` reads of the raw socket: how many bytes the client has sent on it. */
export type ReadCounter = { readonly bytesRead: number };

/**
 * A `ws` socket as a transport. Its listeners are functions shared by every socket, which find the transport on
 * the socket, and it listens to no `pong`: any byte from the client since the last ping (a pong, an ack) shows it
 * is alive. Idle sockets are many, and each closure, event name or second listener of an event is paid per
 * socket (bench/README.md, "What an idle connection holds").
 */
export class WsTransport implements Transport {
  readonly kind = "websocket";
  events: TransportEvents | undefined;
  /** `socket.bytesRead` at the last ping; -1 before the first. */
  private readAtPing = -1;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: ReadCounter,
    readonly logger: Logger,
    /** The admission slot the socket holds until it closes. */
    private readonly slot?: { release(): void } | undefined,
  ) {
    (ws as WsWithTransport)[TRANSPORT] = this;
    ws.on("message", onWsMessage);
    ws.on("close", onWsClose);
    ws.on("error", onWsError);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  listen(events: TransportEvents): void {
    this.events = events;
  }

  send(frame: string | Buffer): void {
    // A Buffer is a frame serialised once for many sockets; it is still a text frame.
    this.ws.send(frame, TEXT_FRAME);
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

  keepAlive(): boolean {
    const read = this.socket.bytesRead;
    if (read === this.readAtPing) return false;
    this.readAtPing = read;
    this.ws.ping();
    return true;
  }

  /** The socket closed: its admission slot is free, then the connection hears of it. */
  gone(): void {
    this.slot?.release();
    this.events?.onGone();
  }
}

const TRANSPORT = Symbol("herald.transport");
/** `ws` copies its send options, so one object serves every send. */
const TEXT_FRAME = Object.freeze({ binary: false });
type WsWithTransport = WebSocket & { [TRANSPORT]?: WsTransport };

function onWsMessage(this: WsWithTransport, data: WebSocket.RawData, isBinary: boolean): void {
  this[TRANSPORT]?.events?.onFrame(data.toString(), isBinary);
}

function onWsClose(this: WsWithTransport): void {
  this[TRANSPORT]?.gone();
}

function onWsError(this: WsWithTransport, err: Error): void {
  this[TRANSPORT]?.logger.debug({ err }, "socket error");
}
