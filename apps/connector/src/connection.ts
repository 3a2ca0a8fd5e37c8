import { randomUUID } from "node:crypto";
import { CloseCode, type ConnectionInfo, ErrorCode, type WelcomeFrame } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import { TokenBucket } from "@herald/service-kit";
import { AuthError, type Identity, type Verifier } from "./auth.js";
import type { ChannelSubscriptions } from "./channel-subscriptions.js";
import { errorFrame, type FrameSink, parseClientFrame } from "./frames.js";
import type { BufferedSocket, SendBudget } from "./send-budget.js";
import type { Session } from "./session.js";
import type { Transport, TransportEvents } from "./transport.js";

export type ConnectionDeps = {
  verify: Verifier;
  handshakeTimeoutMs: number;
  maxBufferedBytes: number;
  /** Bytes buffered per user and across the connector (this socket counts once authenticated). */
  sendBudget: SendBudget;
  logger: Logger;
  /** Builds the delivery session once the identity is known. */
  createSession: (identity: Identity, client: FrameSink) => Session;
  createChannels: (identity: () => Identity, client: FrameSink) => ChannelSubscriptions;
  /** Frames per second a client may send (token bucket), and the burst it may save up. */
  rateLimit: { perSecond: number; burst: number };
  onOpen: (connection: Connection) => void;
  onClose: (connection: Connection) => void;
  onSlowConsumer: () => void;
};

/**
 * One client, over any transport: authentication (from the upgrade request or a first `auth` frame), token expiry and
 * refresh, frame parsing, and the bounded send path. Delivery itself is the session's job.
 *
 * Most connections sit idle, so one holds little until it is used: its transport calls its methods (no closures),
 * token expiry is checked by one sweep over all connections (`expireIfDue`), and the rate-limit bucket and the
 * channel subscriptions are made by the first frame and the first subscribe.
 */
export class Connection implements TransportEvents, BufferedSocket, FrameSink, ConnectionInfo {
  readonly connectionId = randomUUID();
  /** When it opened, in ms since the epoch (presence's `ConnectionInfo.since`). */
  readonly since = Date.now();
  identity: Identity | undefined;
  session: Session | undefined;
  channels: ChannelSubscriptions | undefined;
  private bucket: TokenBucket | undefined;
  private dropped = 0;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private budgeted = false;
  private closeListeners: ((connection: Connection) => void)[] | undefined;

  constructor(
    readonly transport: Transport,
    private readonly deps: ConnectionDeps,
    preAuthenticated: Identity | undefined,
  ) {
    transport.listen(this);
    if (preAuthenticated) {
      this.authenticated(preAuthenticated);
    } else {
      this.handshakeTimer = setTimeout(() => this.handshakeDue(), deps.handshakeTimeoutMs);
    }
  }

  /** Sends a frame unless the client is too slow to take it, in which case the socket is closed (4008). */
  send(frame: string | Buffer): boolean {
    if (!this.transport.open) return false;
    if (this.transport.bufferedAmount > this.deps.maxBufferedBytes) {
      this.dropAsSlow();
      return false;
    }
    this.transport.send(frame);
    if (this.budgeted) this.deps.sendBudget.update(this);
    return this.transport.open;
  }

  /** Runs `listener` once the transport is gone. */
  onceClosed(listener: (connection: Connection) => void): void {
    // A literal of one: an empty array grown by push reserves room for 16 listeners, on every connection.
    this.closeListeners = this.closeListeners ? [...this.closeListeners, listener] : [listener];
  }

  /** The user, for the send budget (which counts this connection once authenticated) and presence. */
  get userId(): string {
    return this.identity?.userId ?? "";
  }

  /** The device, for presence (a refresh keeps the user and device). */
  get deviceId(): string {
    return this.identity?.deviceId ?? "";
  }

  /** Bytes waiting in the send buffer now. */
  bufferedBytes(): number {
    return this.transport.bufferedAmount;
  }

  /** Closes the token's connection once it has expired (called by the connector's sweep, and after refresh). */
  expireIfDue(now: number): void {
    if (this.identity && this.identity.expiresAt <= now && this.transport.open) {
      this.close(CloseCode.TokenExpired, "token expired");
    }
  }

  /** Closes as a slow consumer (4008). */
  dropAsSlow(): void {
    if (!this.transport.open) return;
    this.deps.onSlowConsumer();
    this.close(CloseCode.SlowConsumer, "slow consumer: send buffer full; reconnect to resume");
  }

  /** Closes with `code` and `reason` (the transport cuts the reason to what it can carry); never throws. */
  close(code: number, reason: string): void {
    this.transport.close(code, reason);
  }

  /**
   * The handshake timeout fired. A connector behind on its work (a reconnect storm) may hold an `auth` frame
   * that arrived in time but is not read yet: the close waits for the event loop's next read of the sockets,
   * and an `auth` frame read there (which stops the timer) keeps the connection.
   */
  private handshakeDue(): void {
    setImmediate(() => {
      if (this.handshakeTimer === undefined || this.identity) return;
      this.close(CloseCode.HandshakeTimeout, "no auth frame within the handshake timeout");
    });
  }

  private stopHandshakeTimer(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  private authenticated(identity: Identity): void {
    this.stopHandshakeTimer();
    this.identity = identity;
    this.budgeted = true;
    this.deps.sendBudget.add(this);
    const welcome: WelcomeFrame = {
      type: "welcome",
      userId: identity.userId,
      deviceId: identity.deviceId,
      connectionId: this.connectionId,
    };
    this.send(JSON.stringify(welcome));
    this.session = this.deps.createSession(identity, this);
    this.deps.onOpen(this);
    this.session.start();
    // A token that expired while it was being verified.
    this.expireIfDue(Date.now());
  }

  /** The channel subscriptions, made by the first subscribe. */
  private channelsOf(identity: Identity): ChannelSubscriptions {
    this.channels ??= this.deps.createChannels(() => this.identity ?? identity, this);
    return this.channels;
  }

  /** One frame from the client (a WebSocket message, or an SSE connection's POST). */
  onFrame(text: string, isBinary: boolean): void {
    if (isBinary) {
      if (!this.withinRate()) return;
      this.send(errorFrame(ErrorCode.InvalidFrame, "binary frames are not supported; send JSON text frames"));
      return;
    }
    const parsed = parseClientFrame(text);
    // Acks are counted where they are handled: only one that frees in-flight messages is free.
    const isAck = parsed.ok && parsed.frame.type === "ack" && this.identity !== undefined;
    if (!isAck && !this.withinRate()) return;
    if (!parsed.ok) {
      this.send(JSON.stringify(parsed.error));
      return;
    }
    const frame = parsed.frame;
    if (!this.identity) {
      if (frame.type !== "auth") {
        this.close(CloseCode.Unauthorized, "the first frame must be auth");
        return;
      }
      // The client sent its token in time: how long the check takes (a busy connector) is not its fault.
      this.stopHandshakeTimer();
      this.deps.verify(frame.token, "connection").then(
        (identity) => {
          if (this.transport.open && !this.identity) this.authenticated(identity);
        },
        (err: unknown) => this.refuse(err),
      );
      return;
    }
    switch (frame.type) {
      case "ack": {
        const inflight = this.session?.inflightCount ?? 0;
        const unknown = this.session?.ack(frame.ids) ?? frame.ids;
        // An ack that freed in-flight messages is paced by what the server sent; any other (a repeat, an
        // unknown id) is a frame like the rest.
        const freed = (this.session?.inflightCount ?? 0) < inflight;
        if (!freed && !this.withinRate()) return;
        if (unknown.length > 0) {
          this.send(
            errorFrame(ErrorCode.UnknownMessageId, "ack for ids this connection has not delivered", [
              ...unknown,
            ]),
          );
        }
        return;
      }
      case "auth":
        this.send(
          errorFrame(ErrorCode.InvalidFrame, "already authenticated; use refresh to replace the token"),
        );
        return;
      case "refresh":
        this.refresh(frame.token);
        return;
      case "subscribe":
        this.channelsOf(this.identity)
          .subscribe(frame)
          .then(
            (error) => {
              if (error) this.send(JSON.stringify(error));
            },
            (err: unknown) => {
              this.deps.logger.warn({ err }, "subscribe failed");
              this.send(errorFrame(ErrorCode.Internal, "subscribe failed; try again"));
            },
          );
        return;
      case "unsubscribe":
        this.channels?.unsubscribe(frame.channel);
        return;
    }
  }

  /** Takes one frame's worth from the bucket, or answers `rate_limited` (the frame is dropped). */
  private withinRate(): boolean {
    this.bucket ??= new TokenBucket(this.deps.rateLimit.perSecond, this.deps.rateLimit.burst);
    if (this.bucket.take()) {
      this.dropped = 0;
      return true;
    }
    // A client that keeps flooding after being told is cut off rather than answered forever.
    if (++this.dropped > this.deps.rateLimit.burst) {
      this.close(CloseCode.PolicyViolation, "rate limit exceeded");
    } else {
      this.send(errorFrame(ErrorCode.RateLimited, "too many frames; this one was dropped, slow down"));
    }
    return false;
  }

  private refresh(token: string): void {
    this.deps.verify(token, "connection").then(
      (identity) => {
        if (identity.userId !== this.identity?.userId || identity.deviceId !== this.identity.deviceId) {
          this.send(errorFrame(ErrorCode.Unauthorized, "refresh token is for another user or device"));
          return;
        }
        this.identity = identity;
        // Channels the new claims no longer allow end now, not at the next reconnect.
        this.channels?.revalidate();
      },
      (err: unknown) => {
        const error = err instanceof AuthError ? err : undefined;
        this.send(errorFrame(error?.code ?? ErrorCode.Unauthorized, error?.message ?? "invalid token"));
      },
    );
  }

  private refuse(err: unknown): void {
    const expired = err instanceof AuthError && err.code === ErrorCode.TokenExpired;
    this.close(
      expired ? CloseCode.TokenExpired : CloseCode.Unauthorized,
      expired ? "token expired" : "unauthorized",
    );
  }

  onGone(): void {
    this.stopHandshakeTimer();
    if (this.budgeted) this.deps.sendBudget.remove(this);
    this.session?.close();
    this.channels?.closeAll();
    if (this.identity) this.deps.onClose(this);
    const listeners = this.closeListeners ?? [];
    this.closeListeners = undefined;
    for (const listener of listeners) listener(this);
  }
}
