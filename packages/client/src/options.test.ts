import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { HeraldClient } from "./client.js";
import { InvalidOptionsError } from "./errors.js";
import { resolveOptions } from "./options.js";
import { ScriptedServer } from "./test-support/scripted-server.js";

describe("options", () => {
  const original = (globalThis as { WebSocket?: unknown }).WebSocket;
  afterEach(() => {
    (globalThis as { WebSocket?: unknown }).WebSocket = original;
  });

  it("has the documented defaults", () => {
    const options = resolveOptions({ url: "ws://h/ws", token: "t", WebSocket });
    expect(options).toMatchObject({
      autoAck: true,
      authInFirstFrame: true,
      seenIdsCapacity: 10_000,
      terminalCloseCodes: [4010, 4012],
      authCloseCodes: [4001, 4003],
      reconnect: { initialDelayMs: 500, maxDelayMs: 30_000 },
    });
  });

  it("rejects options that cannot work", () => {
    const bad = [
      { url: "http://h/ws", token: "t", WebSocket },
      { url: "not a url", token: "t", WebSocket },
      { url: "ws://h/ws", token: "", WebSocket },
      { url: "ws://h/ws", token: "t", WebSocket, seenIdsCapacity: 0 },
      { url: "ws://h/ws", token: "t", WebSocket, reconnect: { initialDelayMs: -1 } },
    ];
    for (const options of bad) expect(() => new HeraldClient(options)).toThrow(InvalidOptionsError);
  });

  it("needs a WebSocket implementation when there is no global one (Node 20)", () => {
    (globalThis as { WebSocket?: unknown }).WebSocket = undefined;
    expect(() => new HeraldClient({ url: "ws://h/ws", token: "t" })).toThrow(/pass one/);
  });

  it("uses globalThis.WebSocket by default, as in a browser", async () => {
    (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
    const server = await ScriptedServer.start();
    const client = new HeraldClient({ url: server.url, token: "t" });
    try {
      await expect(client.connect()).resolves.toMatchObject({ userId: "alice" });
    } finally {
      await client.close();
      await server.close();
    }
  });
});
