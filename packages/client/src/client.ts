import type { ClientFrame, ServerFrame } from "@herald/protocol";
import { AckBatcher } from "./ack-batcher.js";
import { backoffDelay } from "./backoff.js";
import { ChannelRegistry } from "./channels.js";
import { Emitter, type Listener } from "./emitter.js";
import {
  ClosedError,
  ConnectionError,
  type HeraldClientError,
  ListenerError,
  ProtocolError,
  ServerError,
  TokenError,
} from "./errors.js";
import { Inbox } from "./inbox.js";
import { MAX_CHANNEL_LENGTH } from "./limits.js";
import { type HeraldClientOptions, MAX_ACK_IDS, type ResolvedOptions, resolveOptions } from "./options.js";
import { parseServerFrame } from "./parse.js";
import { decideAfterClose } from "./reconnect-policy.js";
import { TokenRefresher } from "./refresher.js";
import { SeenIds } from "./seen-ids.js";
import { errorEventMessage, OPEN, type WebSocketLike } from "./socket.js";
import { fetchToken } from "./token.js";
import { TransportChooser, type TransportKind, type TransportOptions } from "./transport.js";
import type { ChannelHandler, ConnectedEvent, ConnectionState, HeraldClientEvents } from "./types.js";

/** Code reported when a connection ends without a close frame (network failure, refused upgrade). */
const ABNORMAL_CLOSURE = 1006;
/** `close()` stops waiting for the server's close frame after this long. */
const CLOSE_TIMEOUT_MS = 3_000;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

/**
 * A Herald WebSocket client: connects with a JWT, reconnects with full-jitter backoff, delivers user messages
 * at least once (suppressing redeliveries it has already handled) and acks them after the handlers return.
 *
 * @example
 * const client = new HeraldClient({ url: "wss://push.example.com/ws", token: () => fetchToken() });
 * client.on("message", async (message) => { await show(message.data); }); // acked once this resolves
 * await client.connect();
 */
export class HeraldClient {
  readonly #options: ResolvedOptions;
  readonly #events = new Emitter<HeraldClientEvents>();
  readonly #seen: SeenIds;
  readonly #acks: AckBatcher;
  readonly #channels = new ChannelRegistry();
  readonly #inbox: Inbox;
  readonly #refresher: TokenRefresher;
  readonly #transport: TransportChooser;
  #state: ConnectionState = "disconnected";
  #socket: WebSocketLike | undefined;
  /** Increases with every connection attempt; work tagged with an older one belongs to a dead connection. */
  #generation = 0;
  #connection: ConnectedEvent | undefined;
  #started = false;
  #stopping = false;
  #attempt = 0;
  #authFailures = 0;
  #lastSocketError: string | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #welcomeTimer: ReturnType<typeof setTimeout> | undefined;
  #stableTimer: ReturnType<typeof setTimeout> | undefined;
  #connectWaiters: Waiter<ConnectedEvent>[] = [];
  #closeWaiters: Array<() => void> = [];

  constructor(options: HeraldClientOptions & TransportOptions) {
    this.#options = resolveOptions(options);
    this.#transport = new TransportChooser(this.#options, options);
    this.#seen = new SeenIds(this.#options.seenIdsCapacity);
    this.#acks = new AckBatcher(
      (ids) => this.#send({ type: "ack", ids }),
      MAX_ACK_IDS,
      this.#options.ackDelayMs,
    );
    this.#inbox = new Inbox({
      seen: this.#seen,
      autoAck: this.#options.autoAck,
      handlers: () => this.#events.listeners("message"),
      ack: (id, generation) => {
        if (generation === this.#generation && this.#connection !== undefined) this.#acks.add(id);
      },
      onError: (error) => this.#emitError(error),
    });
    this.#refresher = new TokenRefresher({
      source: this.#options.token,
      refreshBeforeExpiryMs: this.#options.refreshBeforeExpiryMs,
      onToken: (token) => this.#send({ type: "refresh", token }),
      onError: (error) => this.#emitError(error),
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The device id the server welcomed this client as, else the informational `deviceId` option. */
  get deviceId(): string | undefined {
    return this.#connection?.deviceId ?? this.#options.deviceId;
  }

  /** The transport of the current (or next) connection attempt; the `transport` event tells of each. */
  get transport(): TransportKind {
    return this.#transport.kind;
  }

  /** The current connection's welcome, or `undefined` while not connected. */
  get connection(): ConnectedEvent | undefined {
    return this.#connection;
  }

  on<K extends keyof HeraldClientEvents>(event: K, listener: Listener<HeraldClientEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof HeraldClientEvents>(event: K, listener: Listener<HeraldClientEvents[K]>): () => void {
    return this.#events.once(event, listener);
  }

  off<K extends keyof HeraldClientEvents>(event: K, listener: Listener<HeraldClientEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Starts connecting (once; later calls join in) and resolves with the welcome of the first connection. Rejects
   * with a `ClosedError` if the client stops first: `close()`, a terminal close code, or a rejected token.
   */
  connect(): Promise<ConnectedEvent> {
    if (this.#state === "closed") return Promise.reject(new ClosedError("the client is closed"));
    if (this.#connection !== undefined) return Promise.resolve(this.#connection);
    const promise = new Promise<ConnectedEvent>((resolve, reject) =>
      this.#connectWaiters.push({ resolve, reject }),
    );
    if (!this.#started) {
      this.#started = true;
      void this.#open();
    }
    return promise;
  }

  /**
   * Calls `handler` for every message on `channel`. After a reconnect the client resubscribes by itself with
   * `since` = the last offset it received, so nothing still retained is missed. Returns the unsubscribe function.
   */
  subscribe(channel: string, handler: ChannelHandler, options: { since?: number } = {}): () => void {
    if (typeof channel !== "string" || channel.length === 0 || channel.length > MAX_CHANNEL_LENGTH) {
      throw new RangeError(`channel must be 1 to ${MAX_CHANNEL_LENGTH} characters`);
    }
    if (this.#channels.add(channel, handler, options.since) && this.#connection !== undefined) {
      this.#send(this.#channels.subscribeFrame(channel));
    }
    return () => {
      if (this.#channels.remove(channel, handler) && this.#connection !== undefined) {
        this.#send({ type: "unsubscribe", channel });
      }
    };
  }

  /** The last offset received on `channel`, where a resubscription resumes. */
  channelOffset(channel: string): number | undefined {
    return this.#channels.offset(channel);
  }

  /** Acks message ids yourself (with `autoAck: false`, or for ids handled elsewhere). Batched like auto acks. */
  ack(ids: string | Iterable<string>): void {
    for (const id of typeof ids === "string" ? [ids] : ids) {
      this.#seen.add(id);
      if (this.#connection !== undefined) this.#acks.add(id);
    }
  }

  /** Sends pending acks, closes the connection with 1000 and stops reconnecting. Resolves once closed. */
  close(): Promise<void> {
    if (this.#state === "closed") return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    if (this.#stopping) return closed;
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    const socket = this.#socket;
    if (socket === undefined) {
      this.#finish(1000, "client closed", this.#state !== "disconnected");
      return closed;
    }
    if (socket.readyState === OPEN) this.#acks.flush();
    try {
      socket.close(1000, "client closed");
    } catch {
      // Already closing: the close event still comes.
    }
    // A server that never answers the close handshake must not keep the caller waiting.
    const fallback = setTimeout(() => {
      if (this.#socket === socket) this.#lost(ABNORMAL_CLOSURE, "close timed out");
    }, CLOSE_TIMEOUT_MS);
    return closed.finally(() => clearTimeout(fallback));
  }

  async #open(): Promise<void> {
    const generation = ++this.#generation;
    this.#setState("connecting");
    let token: string;
    try {
      token = await fetchToken(this.#options.token);
    } catch (error) {
      if (generation !== this.#generation) return;
      const tokenError = error instanceof TokenError ? error : new TokenError("token failed", error);
      this.#emitError(tokenError);
      this.#lost(ABNORMAL_CLOSURE, tokenError.message);
      return;
    }
    // close() or a newer attempt took over while the token was being fetched.
    if (generation !== this.#generation) return;
    let socket: WebSocketLike;
    let preAuthenticated: boolean;
    try {
      const opened = this.#transport.open(token);
      ({ socket, preAuthenticated } = opened);
      this.#emit("transport", opened.event);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#emitError(new ConnectionError(`cannot open WebSocket: ${message}`));
      this.#lost(ABNORMAL_CLOSURE, message);
      return;
    }
    this.#socket = socket;
    this.#lastSocketError = undefined;
    const current = () => this.#socket === socket;
    socket.addEventListener("open", () => {
      if (!current()) return;
      this.#transport.opened();
      if (!preAuthenticated) this.#send({ type: "auth", token });
    });
    socket.addEventListener("message", (event) => {
      if (current()) this.#onFrame(event.data, generation, token);
    });
    socket.addEventListener("error", (event) => {
      if (current()) this.#lastSocketError = errorEventMessage(event) ?? "WebSocket error";
    });
    socket.addEventListener("close", (event) => {
      if (current()) this.#lost(event.code, event.reason);
    });
    this.#welcomeTimer = setTimeout(() => {
      if (!current()) return;
      try {
        socket.close();
      } catch {
        // Closing a socket that is still connecting may throw; it is abandoned either way.
      }
      this.#lost(ABNORMAL_CLOSURE, `no welcome within ${this.#options.welcomeTimeoutMs} ms`);
    }, this.#options.welcomeTimeoutMs);
  }

  #onFrame(data: unknown, generation: number, token: string): void {
    const parsed = parseServerFrame(data);
    if (parsed instanceof ProtocolError) {
      this.#emitError(parsed);
      return;
    }
    if (parsed === undefined) return; // A frame type from a newer server: ignore it.
    const frame: ServerFrame = parsed;
    switch (frame.type) {
      case "welcome":
        this.#onWelcome(frame, generation, token);
        return;
      case "message":
        if ("channel" in frame) {
          this.#channels.deliver(frame, (error) => this.#listenerFailed(error));
        } else {
          this.#inbox.push(frame, generation);
        }
        return;
      case "subscribed":
        this.#emit("subscribed", { channel: frame.channel, recovered: frame.recovered });
        return;
      case "unsubscribed":
        // The server ended it (e.g. a refreshed token no longer allows it): do not resubscribe on reconnect.
        if (this.#channels.drop(frame.channel)) {
          this.#emit("unsubscribed", { channel: frame.channel, code: frame.code, message: frame.message });
        }
        return;
      case "gap":
        this.#emit("gap", {
          after: frame.after,
          ...(frame.before === undefined ? {} : { before: frame.before }),
          reason: frame.reason,
        });
        return;
      case "error":
        this.#emitError(new ServerError(frame.code, frame.message, frame.ids));
        return;
    }
  }

  #onWelcome(frame: Extract<ServerFrame, { type: "welcome" }>, generation: number, token: string): void {
    clearTimeout(this.#welcomeTimer);
    const connection = { userId: frame.userId, deviceId: frame.deviceId, connectionId: frame.connectionId };
    this.#connection = connection;
    this.#authFailures = 0;
    // Only a connection that stays up resets the backoff, so a server that welcomes and drops at once does not
    // get hammered.
    this.#stableTimer = setTimeout(() => {
      this.#attempt = 0;
    }, this.#options.reconnect.stableAfterMs);
    for (const subscribe of this.#channels.subscribeFrames()) this.#send(subscribe);
    this.#refresher.start(token, () => generation === this.#generation && this.#connection !== undefined);
    this.#setState("connected");
    const waiters = this.#connectWaiters;
    this.#connectWaiters = [];
    for (const waiter of waiters) waiter.resolve(connection);
    this.#emit("connected", connection);
  }

  /** The current connection attempt is over (closed, failed, or abandoned): reconnect or stop. */
  #lost(code: number, reason: string): void {
    const socketError = this.#lastSocketError;
    this.#socket = undefined;
    this.#connection = undefined;
    this.#lastSocketError = undefined;
    clearTimeout(this.#welcomeTimer);
    clearTimeout(this.#stableTimer);
    this.#refresher.stop();
    this.#transport.ended();
    // Unsent acks belonged to this connection; the server redelivers those ids and they are acked again then.
    this.#acks.clear();
    this.#generation++;
    const why = reason !== "" ? reason : (socketError ?? "");
    if (this.#stopping) {
      this.#finish(code, why, true);
      return;
    }
    if (socketError !== undefined && code === ABNORMAL_CLOSURE) {
      this.#emitError(new ConnectionError(socketError));
    }

    const decision = decideAfterClose({
      code,
      socketError,
      terminalCloseCodes: this.#options.terminalCloseCodes,
      authCloseCodes: this.#options.authCloseCodes,
      tokenIsCallback: typeof this.#options.token === "function",
      authFailures: this.#authFailures,
    });
    if (decision.authRejected) this.#authFailures++;
    if (!decision.reconnect) {
      this.#stopping = true;
      this.#finish(code, why, true);
      return;
    }
    const delayMs = backoffDelay(this.#attempt++, this.#options.reconnect, this.#options.random);
    this.#reconnectTimer = setTimeout(() => void this.#open(), delayMs);
    this.#setState("disconnected");
    this.#emit("disconnected", { code, reason: why, willReconnect: true, delayMs });
  }

  /** Enters the final state: no socket, no timers, waiters settled. */
  #finish(code: number, reason: string, announce: boolean): void {
    clearTimeout(this.#reconnectTimer);
    this.#generation++;
    this.#setState("closed");
    if (announce) this.#emit("disconnected", { code, reason, willReconnect: false });
    const error = new ClosedError(`stopped: ${code}${reason === "" ? "" : ` ${reason}`}`, code, reason);
    for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(error);
    for (const resolve of this.#closeWaiters.splice(0)) resolve();
  }

  #send(frame: ClientFrame): void {
    const socket = this.#socket;
    if (socket?.readyState === OPEN) socket.send(JSON.stringify(frame));
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emit("state", state);
  }

  #emit<K extends keyof HeraldClientEvents>(event: K, payload: HeraldClientEvents[K]): void {
    this.#events.emit(event, payload, (error) => this.#listenerFailed(error, event));
  }

  #emitError(error: HeraldClientError): void {
    // A throwing error listener has nowhere left to report to; swallowing it keeps the client alive.
    this.#events.emit("error", error, () => {});
  }

  #listenerFailed(error: unknown, event = "channel"): void {
    this.#emitError(new ListenerError(String(event), error));
  }
}
