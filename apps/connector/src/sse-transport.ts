import type { ServerResponse } from "node:http";
import { closeReason } from "@herald/protocol";
import type { Transport, TransportEvents } from "./transport.js";

/** Headers of the event stream: never cached or buffered on the way (nginx honours `X-Accel-Buffering`). */
export const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-store",
  "X-Accel-Buffering": "no",
  // A stream's socket is not reused for other requests once it ends.
  Connection: "close",
} as const;

/** How long a closed stream's last bytes may take to reach a client before the socket is cut. */
const CLOSE_GRACE_MS = 5_000;
const FRAME_START = "data: ";
const EVENT_END = "\n\n";

/**
 * A Server-Sent Events stream as a transport: each frame is one `data:` event (a frame is JSON text, which
 * has no raw newline); frames from the client arrive by POST and are handed over with `receive`. Closing
 * sends an `event: close` with the code and reason (a stream has no close frame), then ends the response.
 */
export class SseTransport implements Transport {
  readonly kind = "sse";
  private events: TransportEvents | undefined;
  private ended = false;
  /** Whether the stream had drained at the last ping (a stream's answer to it). */
  private answered = true;
  /** The bearer token last verified for this connection's POSTs (verified again only when it changes). */
  verifiedToken: string | undefined;

  constructor(private readonly response: ServerResponse) {
    response.writeHead(200, SSE_HEADERS);
    // Headers out now: the client knows the stream is open before the first frame.
    response.write(": open\n\n");
    response.once("close", () => {
      this.ended = true;
      this.events?.onGone();
    });
    response.on("error", () => response.destroy());
  }

  get open(): boolean {
    return !this.ended && !this.response.writableEnded && !this.response.destroyed;
  }

  get bufferedAmount(): number {
    return this.response.writableLength;
  }

  listen(events: TransportEvents): void {
    this.events = events;
  }

  /** A frame the client POSTed. */
  receive(text: string): void {
    if (this.open) this.events?.onFrame(text, false);
  }

  send(frame: string | Buffer): void {
    if (typeof frame === "string") {
      this.response.write(FRAME_START + frame + EVENT_END);
      return;
    }
    this.response.cork();
    this.response.write(FRAME_START);
    this.response.write(frame);
    this.response.write(EVENT_END);
    process.nextTick(() => this.response.uncork());
  }

  close(code: number, reason: string): void {
    if (!this.open) return;
    this.response.end(
      `event: close\ndata: ${JSON.stringify({ code, reason: closeReason(reason) })}${EVENT_END}`,
    );
    this.ended = true;
    // A client that stopped reading (a slow consumer) must not hold the socket with its full buffer.
    setTimeout(() => {
      if (!this.response.writableFinished) this.response.destroy();
    }, CLOSE_GRACE_MS).unref();
  }

  terminate(): void {
    this.response.destroy();
  }

  /**
   * A comment line keeps proxies from timing the stream out. A stream has no pong: it counts as answered when
   * everything written before a ping has reached the network, so a client that stops reading is cut off in a
   * ping interval or two (and a slow one hits the send-buffer limit first).
   */
  keepAlive(): boolean {
    if (!this.answered) return false;
    this.answered = this.open && this.response.writableLength === 0;
    if (this.open) this.response.write(": ping\n\n");
    return true;
  }
}
