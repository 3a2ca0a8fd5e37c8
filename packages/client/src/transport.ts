import { InvalidOptionsError } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import type { WebSocketLike } from "./socket.js";
import { type FetchLike, SseSocket, sseEndpoint } from "./sse-socket.js";
import { connectUrl } from "./token.js";

/** WebSocket failures in a row before a client whose WebSocket worked before tries SSE. */
export const SSE_FALLBACK_AFTER = 4;

/** How the client reaches the connector. */
export type TransportKind = "websocket" | "sse";

export interface TransportOptions {
  /**
   * `"auto"` (default): WebSocket, falling back to Server-Sent Events by itself when a WebSocket cannot be
   * opened (a network that blocks it); `"websocket"` or `"sse"` to force one.
   */
  transport?: "auto" | TransportKind;
  /** The SSE endpoint. Default: the `url` with `ws(s):` → `http(s):` and `/ws` → `/sse`. */
  sseUrl?: string;
  /** `fetch` for the SSE transport. Default `globalThis.fetch`. */
  fetch?: FetchLike;
}

/** Told which transport a connection attempt uses. */
export interface TransportEvent {
  transport: TransportKind;
  /** True when this attempt uses SSE because WebSocket attempts failed. */
  fallback: boolean;
}

declare module "./types.js" {
  interface HeraldClientEvents {
    transport: TransportEvent;
  }
}

/**
 * Picks each attempt's transport. In `auto`, a WebSocket that never opens (blocked, or its upgrade refused)
 * moves the next attempt to SSE; SSE stays while it works, and an SSE attempt that also fails moves back to
 * WebSocket (both failing means the connector is unreachable, not that WebSocket is blocked).
 *
 * Once a WebSocket of this client has opened, the network let WebSocket through: a failure then is most likely
 * an outage (a connector restarting), and falling back would leave the client on SSE after the connector is
 * back. So it takes `SSE_FALLBACK_AFTER` WebSocket failures in a row to fall back (the client may have moved to a
 * network that blocks WebSocket), and when an SSE link of such a client ends, its next attempt is WebSocket.
 */
export class TransportChooser {
  readonly #mode: "auto" | TransportKind;
  readonly #sseUrl: string;
  readonly #fetch: FetchLike | undefined;
  #kind: TransportKind;
  #opened = false;
  /** A WebSocket of this client has opened before. */
  #webSocketWorked = false;
  /** WebSocket attempts in a row that never opened. */
  #webSocketFailures = 0;

  constructor(
    private readonly options: ResolvedOptions,
    transport: TransportOptions,
  ) {
    const mode = transport.transport ?? "auto";
    if (!["auto", "websocket", "sse"].includes(mode)) {
      throw new InvalidOptionsError(
        `transport must be "auto", "websocket" or "sse", got ${JSON.stringify(mode)}`,
      );
    }
    this.#mode = mode;
    this.#kind = mode === "sse" ? "sse" : "websocket";
    this.#sseUrl = transport.sseUrl ?? sseEndpoint(options.url);
    const fetchImpl = transport.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    this.#fetch = fetchImpl?.bind(globalThis);
    if (mode === "sse" && this.#fetch === undefined)
      throw new InvalidOptionsError("no global fetch: pass one");
  }

  /** The transport of the current (or next) attempt. */
  get kind(): TransportKind {
    return this.#kind;
  }

  /** Opens the next attempt's link; `preAuthenticated` says the token already went with it. */
  open(token: string): { socket: WebSocketLike; event: TransportEvent; preAuthenticated: boolean } {
    this.#opened = false;
    const event = { transport: this.#kind, fallback: this.#mode === "auto" && this.#kind === "sse" };
    if (this.#kind === "sse" && this.#fetch !== undefined) {
      return { socket: new SseSocket(this.#sseUrl, token, this.#fetch), event, preAuthenticated: true };
    }
    const url = connectUrl(this.options.url, token, this.options.authInFirstFrame);
    return {
      socket: new this.options.WebSocket(url),
      event,
      preAuthenticated: !this.options.authInFirstFrame,
    };
  }

  /** The attempt's link opened: the transport itself gets through. */
  opened(): void {
    this.#opened = true;
    if (this.#kind === "websocket") {
      this.#webSocketWorked = true;
      this.#webSocketFailures = 0;
    }
  }

  /** The attempt is over: picks the next one's transport (see the class comment). */
  ended(): void {
    if (this.#mode !== "auto" || this.#fetch === undefined) return;
    if (this.#opened) {
      if (this.#kind === "sse" && this.#webSocketWorked) this.#kind = "websocket";
      return;
    }
    if (this.#kind === "sse") {
      this.#kind = "websocket";
      return;
    }
    this.#webSocketFailures++;
    if (!this.#webSocketWorked || this.#webSocketFailures >= SSE_FALLBACK_AFTER) this.#kind = "sse";
  }
}
