import type { AddressInfo } from "node:net";
import type { ClientFrame, ServerFrame } from "@herald/protocol";
import { type WebSocket, WebSocketServer } from "ws";
import { waitFor } from "./wait.js";

/** What the server does with a token: accept it, or close the connection with a code. */
export type Authorize = (token: string) => { code: number; reason: string } | undefined;

export interface ScriptedServerOptions {
  authorize?: Authorize;
  /** Answer the HTTP upgrade with this status instead of accepting (e.g. 401). */
  refuseUpgradeWith?: number;
  /** Send `welcome` once authorized. Default true. */
  welcome?: boolean;
}

/**
 * A real WebSocket server that speaks the Herald frame contract, driven step by step by a test: it accepts a
 * token from `?token=` or a first `auth` frame, welcomes, records every frame the client sends, and lets the
 * test send frames and close connections with any code.
 */
export class ScriptedServer {
  readonly connections: ServerConnection[] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
    const wss = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      path: "/ws",
      verifyClient: (_info, callback) =>
        options.refuseUpgradeWith === undefined ? callback(true) : callback(false, options.refuseUpgradeWith),
    });
    await new Promise<void>((resolve, reject) => {
      wss.once("listening", resolve);
      wss.once("error", reject);
    });
    const { port } = wss.address() as AddressInfo;
    const server = new ScriptedServer(wss, `ws://127.0.0.1:${port}/ws`);
    wss.on("connection", (ws, request) => {
      const connection = new ServerConnection(ws, request.url ?? "", server.connections.length + 1, options);
      server.connections.push(connection);
    });
    return server;
  }

  /** The `n`th connection (1-based), once it has been made. */
  connection(n: number, timeoutMs?: number): Promise<ServerConnection> {
    return waitFor(() => this.connections[n - 1], `connection #${n}`, timeoutMs);
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

export class ServerConnection {
  /** Every frame the client sent, parsed. */
  readonly frames: ClientFrame[] = [];
  /** The token from the query string, or from the `auth` frame. */
  token: string | undefined;
  readonly queryToken: string | undefined;
  closed: { code: number; reason: string } | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly path: string,
    readonly n: number,
    private readonly options: ScriptedServerOptions,
  ) {
    this.queryToken = new URL(path, "http://localhost").searchParams.get("token") ?? undefined;
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as ClientFrame;
      this.frames.push(frame);
      if (frame.type === "auth" && this.token === undefined) this.#authorize(frame.token);
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    if (this.queryToken !== undefined) this.#authorize(this.queryToken);
  }

  send(frame: ServerFrame | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  message(id: string, seq: number, data: unknown = { n: seq }): void {
    this.send({ type: "message", id, seq, data, ts: 1_700_000_000_000 + seq });
  }

  channelMessage(channel: string, offset: number, data: unknown = { offset }): void {
    this.send({ type: "message", id: `${channel}-${offset}`, channel, offset, data, ts: 1_700_000_000_000 });
  }

  close(code: number, reason = ""): void {
    this.ws.close(code, reason);
  }

  /** Every id acked on this connection, in order, with repeats. */
  ackedIds(): string[] {
    return this.frames.flatMap((frame) => (frame.type === "ack" ? frame.ids : []));
  }

  ackFrames(): string[][] {
    return this.frames.flatMap((frame) => (frame.type === "ack" ? [frame.ids] : []));
  }

  framesOf<T extends ClientFrame["type"]>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.frames.filter((frame): frame is Extract<ClientFrame, { type: T }> => frame.type === type);
  }

  waitForFrame<T extends ClientFrame["type"]>(
    type: T,
    count = 1,
  ): Promise<Extract<ClientFrame, { type: T }>> {
    return waitFor(() => this.framesOf(type)[count - 1], `${type} frame #${count} on connection #${this.n}`);
  }

  waitForAck(id: string, times = 1): Promise<true> {
    return waitFor(
      () => this.ackedIds().filter((acked) => acked === id).length >= times,
      `ack of ${id} x${times} on connection #${this.n}`,
    );
  }

  waitForClose(): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, `close of connection #${this.n}`);
  }

  #authorize(token: string): void {
    this.token = token;
    const rejection = this.options.authorize?.(token);
    if (rejection !== undefined) this.close(rejection.code, rejection.reason);
    else if (this.options.welcome !== false) {
      this.send({ type: "welcome", userId: "alice", deviceId: "phone", connectionId: `conn-${this.n}` });
    }
  }
}
