import { afterEach } from "vitest";
import WebSocket from "ws";
import { HeraldClient } from "../client.js";
import type { HeraldClientError } from "../errors.js";
import type { HeraldClientOptions } from "../options.js";
import type { ConnectedEvent, ConnectionState, DisconnectedEvent, SubscribedEvent } from "../types.js";
import { ScriptedServer, type ScriptedServerOptions } from "./scripted-server.js";

/** Everything a client emitted except messages, in order. */
export interface Recorded {
  states: ConnectionState[];
  connected: ConnectedEvent[];
  disconnected: DisconnectedEvent[];
  errors: HeraldClientError[];
  subscribed: SubscribedEvent[];
}

export function record(client: HeraldClient): Recorded {
  const recorded: Recorded = { states: [], connected: [], disconnected: [], errors: [], subscribed: [] };
  client.on("state", (state) => void recorded.states.push(state));
  client.on("connected", (event) => void recorded.connected.push(event));
  client.on("disconnected", (event) => void recorded.disconnected.push(event));
  client.on("error", (error) => void recorded.errors.push(error));
  client.on("subscribed", (event) => void recorded.subscribed.push(event));
  return recorded;
}

/**
 * Starts scripted servers and clients for one test file and tears all of them down after each test. Clients
 * default to a static token, the `ws` WebSocket and millisecond backoff so reconnect tests run fast.
 */
export function useHarness() {
  const servers: ScriptedServer[] = [];
  const clients: HeraldClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return {
    async server(options?: ScriptedServerOptions): Promise<ScriptedServer> {
      const server = await ScriptedServer.start(options);
      servers.push(server);
      return server;
    },
    client(server: ScriptedServer, options: Partial<HeraldClientOptions> = {}) {
      const client = new HeraldClient({
        url: server.url,
        token: "token-1",
        WebSocket,
        reconnect: { initialDelayMs: 5, maxDelayMs: 20, stableAfterMs: 50 },
        ...options,
      });
      clients.push(client);
      return { client, events: record(client) };
    },
  };
}
