import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { ClosedError } from "./errors.js";
import { useHarness } from "./test-support/harness.js";
import { expectQuiet, waitFor } from "./test-support/wait.js";

const h = useHarness();
/** Zero backoff: a reconnect that should not happen would happen at once, so a short quiet window proves it. */
const noDelay = { random: () => 0 };

describe("HeraldClient authentication", () => {
  it("stops on 4001 with a static token", async () => {
    const server = await h.server({ authorize: () => ({ code: 4001, reason: "invalid token" }) });
    const { client, events } = h.client(server, noDelay);
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClosedError);
    expect(error).toMatchObject({ closeCode: 4001, closeReason: "invalid token" });
    expect(events.disconnected).toEqual([{ code: 4001, reason: "invalid token", willReconnect: false }]);
    expect(client.state).toBe("closed");
    await expectQuiet(() => server.connections.length > 1, "a retry with the same token");
  });

  it("stops on a refused upgrade (HTTP 401) with a static token", async () => {
    const server = await h.server({ refuseUpgradeWith: 401 });
    const { client, events } = h.client(server, noDelay);
    await expect(client.connect()).rejects.toBeInstanceOf(ClosedError);
    expect(events.disconnected).toMatchObject([{ code: 1006, willReconnect: false }]);
    expect(events.disconnected[0]?.reason).toMatch(/401/);
  });

  it("retries 4001 once with a fresh token from the callback, then stops", async () => {
    const server = await h.server({ authorize: () => ({ code: 4001, reason: "invalid token" }) });
    let calls = 0;
    const { client, events } = h.client(server, { ...noDelay, token: () => `token-${++calls}` });
    await expect(client.connect()).rejects.toBeInstanceOf(ClosedError);
    expect(server.connections.map((connection) => connection.token)).toEqual(["token-1", "token-2"]);
    expect(events.disconnected.map((event) => event.willReconnect)).toEqual([true, false]);
    await expectQuiet(() => server.connections.length > 2, "a third attempt");
  });

  it("on 4003 (expired) fetches a new token and reconnects", async () => {
    const server = await h.server({
      authorize: (token) => (token === "token-1" ? { code: 4003, reason: "token expired" } : undefined),
    });
    let calls = 0;
    const { client, events } = h.client(server, { ...noDelay, token: async () => `token-${++calls}` });
    const welcome = await client.connect();
    expect(welcome.connectionId).toBe("conn-2");
    expect(events.disconnected).toEqual([
      { code: 4003, reason: "token expired", willReconnect: true, delayMs: 0 },
    ]);
    expect((await server.connection(2)).token).toBe("token-2");
  });

  it("never reconnects after 4010 (banned), even with a token callback", async () => {
    const server = await h.server();
    const { client, events } = h.client(server, { ...noDelay, token: () => "fresh" });
    await client.connect();
    (await server.connection(1)).close(4010, "banned");
    await waitFor(() => client.state === "closed", "the closed state");
    expect(events.disconnected).toEqual([{ code: 4010, reason: "banned", willReconnect: false }]);
    await expectQuiet(() => server.connections.length > 1, "a reconnect after 4010");
  });

  it("honours a custom list of terminal close codes", async () => {
    const server = await h.server();
    const { client } = h.client(server, { ...noDelay, terminalCloseCodes: [4010, 4500] });
    await client.connect();
    (await server.connection(1)).close(4500);
    await waitFor(() => client.state === "closed", "the closed state");
  });

  it("calls the token callback on every connect, so reconnects use a fresh token", async () => {
    const server = await h.server();
    let calls = 0;
    const { client } = h.client(server, { ...noDelay, token: async () => `token-${++calls}` });
    await client.connect();
    (await server.connection(1)).close(1001, "going away");
    (await server.connection(2)).close(1001, "going away");
    await server.connection(3);
    await waitFor(() => client.connection?.connectionId === "conn-3", "the third welcome");
    expect(server.connections.map((connection) => connection.token)).toEqual([
      "token-1",
      "token-2",
      "token-3",
    ]);
  });

  it("retries with backoff when the token callback fails", async () => {
    const server = await h.server();
    let calls = 0;
    const { client, events } = h.client(server, {
      ...noDelay,
      token: () => {
        if (++calls === 1) throw new Error("auth service down");
        return "token-ok";
      },
    });
    await client.connect();
    expect(events.errors[0]).toMatchObject({ code: "token" });
    expect(events.disconnected[0]).toMatchObject({ willReconnect: true });
    expect(server.connections.map((connection) => connection.token)).toEqual(["token-ok"]);
  });

  it("sends the token in a first auth frame by default, never in the URL", async () => {
    const server = await h.server();
    const { client } = h.client(server, { token: "secret-token" });
    await client.connect();
    const connection = await server.connection(1);
    expect(connection.queryToken).toBeUndefined();
    expect(connection.path).toBe("/ws");
    expect(connection.frames[0]).toEqual({ type: "auth", token: "secret-token" });
  });

  it("puts the token in the URL only when opted in with authInFirstFrame: false", async () => {
    const server = await h.server();
    const { client } = h.client(server, { authInFirstFrame: false, token: "url-token" });
    await client.connect();
    const connection = await server.connection(1);
    expect(connection.queryToken).toBe("url-token");
    expect(connection.frames.some((frame) => frame.type === "auth")).toBe(false);
  });

  it("sends a refresh frame with a new token before the current one expires", async () => {
    const server = await h.server();
    const jwt = (n: number, exp: number) =>
      `e30.${Buffer.from(JSON.stringify({ sub: "alice", n, exp })).toString("base64url")}.sig`;
    const now = Math.floor(Date.now() / 1000);
    let calls = 0;
    const tokens = [jwt(1, now + 2), jwt(2, now + 3600)];
    const { client } = h.client(server, {
      token: () => tokens[calls++] ?? "unexpected",
      refreshBeforeExpiryMs: 1500,
    });
    await client.connect();
    const connection = await server.connection(1);
    expect(await connection.waitForFrame("refresh")).toEqual({ type: "refresh", token: tokens[1] });
    expect(calls).toBe(2);
  });
});
