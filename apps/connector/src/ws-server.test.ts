import type { AddressInfo } from "node:net";
import { createLogger } from "@herald/service-kit";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Admission } from "./admission.js";
import type { Identity } from "./auth.js";
import { NO_PROXY } from "./client-address.js";
import { createHttpServer } from "./http-server.js";
import type { Transport } from "./transport.js";
import { attachWebSocket } from "./ws-server.js";

const identity: Identity = {
  userId: "alice",
  deviceId: "phone",
  channels: [],
  expiresAt: Date.now() + 3_600_000,
  channel: undefined,
};
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Clients first, then their server.
  for (const close of closers.splice(0).reverse()) await close();
});

/** A real server with the `/ws` endpoint; every accepted transport is handed to the test. */
async function serve(
  compression: { thresholdBytes: number } | undefined,
  rate: { perSecond: number; maxWaitMs: number } = { perSecond: 100, maxWaitMs: 0 },
  maxConnectionsPerIp = 100,
) {
  const server = createHttpServer({ headersTimeoutMs: 5_000, requestTimeoutMs: 5_000 });
  const accepted: Transport[] = [];
  attachWebSocket(server, {
    verify: async () => identity,
    maxFrameBytes: 1024 * 1024,
    admission: new Admission({
      accepting: () => true,
      maxConnectionsPerIp,
      maxNewConnectionsPerSecond: rate.perSecond,
      newConnectionMaxWaitMs: rate.maxWaitMs,
      // A stopped clock: the bucket never refills during a test, however slow the machine.
      now: () => 0,
      proxyTrust: NO_PROXY,
      onRefused: () => {},
    }),
    onConnection: (transport) => void accepted.push(transport),
    logger: createLogger("ws-test", "silent"),
    compression,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws?token=t`, accepted };
}

async function connect(url: string, perMessageDeflate: boolean, autoPong = true) {
  const ws = new WebSocket(url, { perMessageDeflate, autoPong });
  closers.push(async () => ws.terminate());
  const frames: string[] = [];
  ws.on("message", (data, isBinary) => {
    expect(isBinary).toBe(false);
    frames.push(data.toString());
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return { ws, frames };
}

const until = async (check: () => boolean) => {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("permessage-deflate", () => {
  const big = JSON.stringify({ type: "message", id: "m1", seq: 1, data: "abc".repeat(20_000), ts: 1 });
  const small = JSON.stringify({ type: "message", id: "m2", seq: 2, data: "x", ts: 2 });

  it("is negotiated when on, and a client that asks receives every frame intact, large or small", async () => {
    const { url, accepted } = await serve({ thresholdBytes: 256 });
    const { ws, frames } = await connect(url, true);
    expect(ws.extensions).toContain("permessage-deflate");
    await until(() => accepted.length === 1);
    const transport = accepted[0]!;
    transport.send(big);
    transport.send(Buffer.from(small));
    transport.send(Buffer.from(big));
    await until(() => frames.length === 3);
    expect(frames).toEqual([big, small, big]);
  });

  it.each([
    ["is never negotiated when off", undefined, true],
    ["leaves clients that do not ask for it uncompressed when on", { thresholdBytes: 256 }, false],
  ] as const)("%s", async (_, compression, clientAsks) => {
    const { url, accepted } = await serve(compression);
    const { ws, frames } = await connect(url, clientAsks);
    expect(ws.extensions).toBe("");
    await until(() => accepted.length === 1);
    accepted[0]!.send(big);
    await until(() => frames.length === 1);
    expect(frames).toEqual([big]);
  });
});

describe("admission past the rate", () => {
  it("holds an upgrade until its turn, and refuses one past the longest wait with 503 and Retry-After", async () => {
    // 2 per second: the first two open at once, the third waits ~500 ms, the fourth would wait 1 s > 600 ms.
    const { url, accepted } = await serve(undefined, { perSecond: 2, maxWaitMs: 600 });
    await connect(url, false);
    await connect(url, false);
    const started = Date.now();
    const queued = connect(url, false);
    const refused = await new Promise<{ status: number; retryAfter: string | undefined }>(
      (resolve, reject) => {
        const ws = new WebSocket(url);
        closers.push(async () => ws.terminate());
        ws.on("error", () => {}); // the refusal ends it
        ws.once("unexpected-response", (_request, response) =>
          resolve({ status: response.statusCode ?? 0, retryAfter: response.headers["retry-after"] }),
        );
        ws.once("open", () => reject(new Error("opened past the wait")));
      },
    );
    expect(refused).toEqual({ status: 503, retryAfter: "1" });
    await queued;
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    await until(() => accepted.length === 3);
  });
});

describe("keep-alive", () => {
  /** The server's transport with what it has read; a frame read there was sent after anything before it. */
  async function pair(autoPong: boolean) {
    const { url, accepted } = await serve(undefined);
    const client = await connect(url, false, autoPong);
    await until(() => accepted.length === 1);
    const transport = accepted[0]!;
    const read: string[] = [];
    transport.listen({ onFrame: (text) => void read.push(text), onGone: () => {} });
    const pinged = () => new Promise((resolve) => client.ws.once("ping", resolve));
    return { ...client, transport, read, pinged };
  }

  it("keeps a client that answers the pings", async () => {
    const { ws, transport, read, pinged } = await pair(true);
    for (let round = 1; round <= 3; round++) {
      const ping = pinged();
      expect(transport.keepAlive()).toBe(true);
      await ping;
      // Sent after the pong, so read after it.
      ws.send(`after pong ${round}`);
      await until(() => read.length === round);
    }
    expect(transport.open).toBe(true);
  });

  it("counts any frame from the client as an answer", async () => {
    const { ws, transport, read, pinged } = await pair(false);
    const ping = pinged();
    expect(transport.keepAlive()).toBe(true);
    await ping;
    ws.send(JSON.stringify({ type: "ack", ids: ["m1"] }));
    await until(() => read.length === 1);
    expect(transport.keepAlive()).toBe(true);
  });

  it("gives up on a client that sent nothing since the last ping", async () => {
    const { transport, pinged } = await pair(false);
    const ping = pinged();
    expect(transport.keepAlive()).toBe(true);
    await ping;
    expect(transport.keepAlive()).toBe(false);
  });
});

describe("the admission slot", () => {
  it("is held while a socket is open and freed when it closes", async () => {
    const { url, accepted } = await serve(undefined, undefined, 1);
    const first = await connect(url, false);
    await until(() => accepted.length === 1);
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      closers.push(async () => ws.terminate());
      ws.on("error", () => {});
      ws.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
      ws.once("open", () => resolve(101));
    });
    expect(refused).toBe(429);
    let gone = false;
    accepted[0]!.listen({
      onFrame: () => {},
      onGone: () => {
        gone = true;
      },
    });
    first.ws.close();
    await until(() => gone);
    await connect(url, false);
    await until(() => accepted.length === 2);
  });
});
