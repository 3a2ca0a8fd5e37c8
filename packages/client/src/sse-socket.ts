import type { WebSocketLike } from "./socket.js";

/** The `fetch` the SSE transport uses (the global one by default). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** The close code of a stream that ended without the server's `close` event. */
const ABNORMAL_CLOSURE = 1006;

type Listeners = {
  open: ((event: unknown) => void)[];
  message: ((event: { data: unknown }) => void)[];
  close: ((event: { code: number; reason: string }) => void)[];
  error: ((event: unknown) => void)[];
};

/**
 * The connector's `/sse` endpoint for the WebSocket's `/ws` (same host, `ws:` → `http:`, `wss:` → `https:`).
 *
 * @example
 * sseEndpoint("wss://push.example.com/ws") // "https://push.example.com/sse"
 */
export function sseEndpoint(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = `${url.pathname.replace(/\/ws\/?$|\/$/, "")}/sse`;
  url.search = "";
  return url.toString();
}

/**
 * A WebSocket-shaped link over Server-Sent Events, for networks that block WebSocket: a ticket by
 * `POST <sse>/ticket` (bearer token), the event stream by `GET <sse>?ticket=…`, each frame out by
 * `POST <sse>/<connectionId>` (bearer token), in order. The stream is read with `fetch`, so the token never
 * goes in a URL. A refused request is reported like a refused upgrade (`Unexpected server response: 401`).
 */
export class SseSocket implements WebSocketLike {
  readyState = CONNECTING;
  readonly #listeners: Listeners = { open: [], message: [], close: [], error: [] };
  readonly #abort = new AbortController();
  #connectionId: string | undefined;
  /** Frames wait here until the welcome names the connection; then they go one POST at a time, in order. */
  #outbox: string[] = [];
  #posting = false;
  #token: string;
  #closing: { code: number; reason: string } | undefined;

  constructor(
    readonly endpoint: string,
    token: string,
    private readonly fetchImpl: FetchLike,
  ) {
    this.#token = token;
    void this.#run();
  }

  addEventListener(type: keyof Listeners, listener: (event: never) => void): void {
    (this.#listeners[type] as ((event: never) => void)[]).push(listener);
  }

  send(data: string): void {
    if (this.readyState !== OPEN) return;
    this.#outbox.push(data);
    void this.#flush();
  }

  /** Ends the link once the frames already sent (e.g. the last acks) are posted. */
  close(code = 1000, reason = ""): void {
    if (
      this.readyState !== OPEN ||
      this.#connectionId === undefined ||
      (!this.#posting && this.#outbox.length === 0)
    ) {
      this.#end(code, reason);
      return;
    }
    this.readyState = CLOSING;
    this.#closing = { code, reason };
  }

  async #run(): Promise<void> {
    try {
      const ticket = await this.#ticket();
      const response = await this.fetchImpl(`${this.endpoint}?ticket=${encodeURIComponent(ticket)}`, {
        headers: { Accept: "text/event-stream" },
        cache: "no-store",
        signal: this.#abort.signal,
      });
      if (!response.ok || response.body === null) throw await refused(response);
      if (this.readyState !== CONNECTING) return;
      this.readyState = OPEN;
      this.#emit("open", {});
      await this.#read(response.body);
      this.#end(ABNORMAL_CLOSURE, "");
    } catch (error) {
      if (this.readyState === CLOSED) return;
      this.#emit("error", { message: error instanceof Error ? error.message : String(error) });
      this.#end(ABNORMAL_CLOSURE, "");
    }
  }

  async #ticket(): Promise<string> {
    const response = await this.fetchImpl(`${this.endpoint}/ticket`, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.#token}` },
      cache: "no-store",
      signal: this.#abort.signal,
    });
    if (!response.ok) throw await refused(response);
    const body = (await response.json()) as { ticket?: unknown };
    if (typeof body.ticket !== "string") throw new Error("the ticket reply has no ticket");
    return body.ticket;
  }

  /** Reads events until the stream ends: `data:` lines make a frame, `event: close` ends the link. */
  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = body.getReader();
    let pending = "";
    let event = "message";
    let data: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done || this.readyState === CLOSED) return;
      pending += decoder.decode(value, { stream: true });
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline).replace(/\r$/, "");
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
        if (line === "") {
          if (data.length > 0) this.#dispatch(event, data.join("\n"));
          event = "message";
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        } else if (line.startsWith("event:")) {
          event = line.slice(6).trim();
        }
      }
    }
  }

  #dispatch(event: string, data: string): void {
    if (this.readyState !== OPEN) return;
    if (event === "close") {
      const { code, reason } = parseClose(data);
      this.#end(code, reason);
      return;
    }
    if (this.#connectionId === undefined) {
      this.#connectionId = welcomeConnectionId(data);
      if (this.#connectionId !== undefined) void this.#flush();
    }
    this.#emit("message", { data });
  }

  async #flush(): Promise<void> {
    if (this.#posting || this.#connectionId === undefined) return;
    this.#posting = true;
    try {
      while (this.#outbox.length > 0 && (this.readyState === OPEN || this.readyState === CLOSING)) {
        const frame = this.#outbox.shift()!;
        await this.#post(frame);
      }
    } catch (error) {
      this.#emit("error", { message: error instanceof Error ? error.message : String(error) });
      this.#end(ABNORMAL_CLOSURE, "");
    } finally {
      this.#posting = false;
      if (this.readyState === CLOSING && this.#closing) this.#end(this.#closing.code, this.#closing.reason);
    }
  }

  async #post(frame: string): Promise<void> {
    // The auth frame is for WebSocket: here the ticket already stood for the token.
    const type = frameType(frame);
    if (type === "auth") return;
    const response = await this.fetchImpl(`${this.endpoint}/${this.#connectionId}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.#token}`, "Content-Type": "application/json" },
      body: frame,
      cache: "no-store",
      signal: this.#abort.signal,
    });
    if (!response.ok) throw await refused(response);
    // Later POSTs carry the refreshed token once the server has taken it.
    if (type === "refresh") this.#token = (JSON.parse(frame) as { token: string }).token;
  }

  #end(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.#outbox = [];
    this.#abort.abort();
    this.#emit("close", { code, reason });
  }

  #emit<K extends keyof Listeners>(type: K, event: Parameters<Listeners[K][number]>[0]): void {
    for (const listener of [...this.#listeners[type]]) (listener as (event: unknown) => void)(event);
  }
}

/** An error saying what the server refused, worded like `ws`'s refused upgrade so the reconnect policy reads it. */
async function refused(response: Response): Promise<Error> {
  let detail = "";
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string") detail = `: ${body.error.code}: ${String(body.error.message)}`;
  } catch {
    // No JSON body: the status says enough.
  }
  return new Error(`Unexpected server response: ${response.status}${detail}`);
}

function parseClose(data: string): { code: number; reason: string } {
  try {
    const { code, reason } = JSON.parse(data) as { code?: unknown; reason?: unknown };
    return {
      code: typeof code === "number" ? code : ABNORMAL_CLOSURE,
      reason: typeof reason === "string" ? reason : "",
    };
  } catch {
    return { code: ABNORMAL_CLOSURE, reason: "" };
  }
}

function frameType(frame: string): unknown {
  try {
    return (JSON.parse(frame) as { type?: unknown }).type;
  } catch {
    return undefined;
  }
}

function welcomeConnectionId(data: string): string | undefined {
  try {
    const frame = JSON.parse(data) as { type?: unknown; connectionId?: unknown };
    return frame.type === "welcome" && typeof frame.connectionId === "string"
      ? frame.connectionId
      : undefined;
  } catch {
    return undefined;
  }
}
