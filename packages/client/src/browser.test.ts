import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromiumLaunchOptions } from "../../../scripts/lib/chromium.mjs";
import { bundleSdk } from "../../../scripts/lib/sdk-bundle.mjs";
import { ScriptedServer } from "./test-support/scripted-server.js";

// The SDK as browsers get it (the minified bundle that scripts/sdk-size.mjs measures), run in Debian's Chromium
// against the scripted server: the browser's own WebSocket, event loop and module loader, no Node globals.

type Sdk = typeof import("./index.js");
/** What the page keeps for the test to read. */
type PageState = {
  Herald: Sdk;
  client?: InstanceType<Sdk["HeraldClient"]>;
  messages: { id: string; seq: number; data: unknown }[];
  channel: { offset: number; data: unknown }[];
  states: string[];
  disconnects: { code: number; willReconnect: boolean }[];
};

let browser: Browser | undefined;
let http: Server | undefined;
let pageUrl = "";
let page: Page | undefined;
const servers: ScriptedServer[] = [];

beforeAll(async () => {
  const { code } = await bundleSdk();
  http = createServer((request, response) => {
    if (request.url === "/herald-client.js") {
      response.writeHead(200, { "content-type": "text/javascript" }).end(code);
      return;
    }
    response
      .writeHead(200, { "content-type": "text/html" })
      .end(
        `<!doctype html><script type="module">import * as Herald from "/herald-client.js"; ` +
          `Object.assign(window, { Herald, messages: [], channel: [], states: [], disconnects: [] });</script>`,
      );
  });
  await new Promise<void>((resolve) => http?.listen(0, "127.0.0.1", resolve));
  pageUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  browser = await chromium.launch(chromiumLaunchOptions());
}, 60_000);

afterEach(async () => {
  await page?.evaluate(() => (globalThis as unknown as PageState).client?.close());
  await page?.close();
  page = undefined;
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => http?.close(resolve));
});

async function startServer(): Promise<ScriptedServer> {
  const server = await ScriptedServer.start();
  servers.push(server);
  return server;
}

/** A fresh page with the SDK loaded and a client of `url` whose events are recorded on the page. */
async function openClient(url: string, token: "static" | "callback" = "static"): Promise<Page> {
  if (!browser) throw new Error("no browser");
  const opened = await browser.newPage();
  page = opened;
  opened.on("pageerror", (error) => console.error("page error:", error));
  await opened.goto(pageUrl);
  await opened.waitForFunction(() => "Herald" in globalThis);
  await opened.evaluate(
    ({ url, token }) => {
      const state = globalThis as unknown as PageState;
      let tokens = 0;
      const client = new state.Herald.HeraldClient({
        url,
        token: token === "static" ? "token-1" : async () => `token-${++tokens}`,
        reconnect: { initialDelayMs: 5, maxDelayMs: 20, stableAfterMs: 50 },
      });
      client.on("message", (message) => {
        state.messages.push({ id: message.id, seq: message.seq, data: message.data });
      });
      client.on("state", (value) => void state.states.push(value));
      client.on(
        "disconnected",
        ({ code, willReconnect }) => void state.disconnects.push({ code, willReconnect }),
      );
      client.subscribe(
        "news",
        (message) => void state.channel.push({ offset: message.offset, data: message.data }),
      );
      state.client = client;
    },
    { url, token },
  );
  return opened;
}

/** Polls a value on the page until `ready` accepts it. */
async function pageValue<T>(read: () => T, ready: (value: T) => boolean, what: string): Promise<T> {
  const current = page;
  if (!current) throw new Error("no page");
  let last: T | undefined;
  const deadline = Date.now() + 10_000;
  for (;;) {
    last = await current.evaluate(read);
    if (ready(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const messagesOnPage = () => (globalThis as unknown as PageState).messages;

describe("the SDK bundle in Chromium", () => {
  it("authenticates in the first frame, delivers in order and acks after the handler", async () => {
    const server = await startServer();
    const browserPage = await openClient(server.url);
    const welcome = await browserPage.evaluate(() => (globalThis as unknown as PageState).client?.connect());
    expect(welcome).toEqual({ userId: "alice", deviceId: "phone", connectionId: "conn-1" });
    const connection = await server.connection(1);
    expect(connection.queryToken).toBeUndefined();
    expect(connection.frames[0]).toEqual({ type: "auth", token: "token-1" });
    await connection.waitForFrame("subscribe");
    expect(connection.framesOf("subscribe")).toEqual([{ type: "subscribe", channel: "news" }]);

    for (let seq = 1; seq <= 5; seq += 1) connection.message(`m${seq}`, seq, { text: `hello ${seq}` });
    const messages = await pageValue(messagesOnPage, (list) => list.length >= 5, "5 messages");
    expect(messages.map((message) => message.id)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(messages[0]).toEqual({ id: "m1", seq: 1, data: { text: "hello 1" } });
    await connection.waitForAck("m5");
    expect(connection.ackedIds()).toEqual(["m1", "m2", "m3", "m4", "m5"]);
  });

  it("reconnects after a drop, resumes the channel after its offset, and suppresses a redelivery", async () => {
    const server = await startServer();
    const browserPage = await openClient(server.url, "callback");
    await browserPage.evaluate(() => (globalThis as unknown as PageState).client?.connect());
    const first = await server.connection(1);
    expect(await first.waitForFrame("auth")).toEqual({ type: "auth", token: "token-1" });
    await first.waitForFrame("subscribe");
    first.send({ type: "subscribed", channel: "news", recovered: true });
    first.channelMessage("news", 1);
    first.channelMessage("news", 2);
    first.message("m1", 1);
    await first.waitForAck("m1");
    await pageValue(
      () => (globalThis as unknown as PageState).channel,
      (list) => list.length >= 2,
      "2 channel messages",
    );

    // An abrupt drop (no close frame): the browser reports 1006 and the client reconnects with a fresh token.
    first.ws.terminate();
    const second = await server.connection(2);
    expect(await second.waitForFrame("auth")).toEqual({ type: "auth", token: "token-2" });
    const resubscribe = await second.waitForFrame("subscribe");
    expect(resubscribe).toEqual({ type: "subscribe", channel: "news", since: 2 });
    // The server sends m1 again (its ack could have been lost) and the overlap of the channel: neither reaches
    // a handler twice, and m1 is acked again so the server stops sending it.
    second.message("m1", 1);
    second.channelMessage("news", 2);
    second.channelMessage("news", 3);
    second.message("m2", 2);
    await second.waitForAck("m2");
    await second.waitForAck("m1");
    const state = await pageValue(
      () => {
        const { messages, channel, disconnects } = globalThis as unknown as PageState;
        return { messages, channel, disconnects };
      },
      (value) => value.channel.length >= 3,
      "channel offset 3",
    );
    expect(state.messages.map((message) => message.id)).toEqual(["m1", "m2"]);
    expect(state.channel.map((message) => message.offset)).toEqual([1, 2, 3]);
    expect(state.disconnects).toEqual([{ code: 1006, willReconnect: true }]);
  });

  it("stops for good on the banned close code", async () => {
    const server = await startServer();
    const browserPage = await openClient(server.url);
    await browserPage.evaluate(() => (globalThis as unknown as PageState).client?.connect());
    const connection = await server.connection(1);
    connection.close(4010, "banned");
    const states = await pageValue(
      () => (globalThis as unknown as PageState).states,
      (list) => list.includes("closed"),
      "state closed",
    );
    expect(states).toEqual(["connecting", "connected", "closed"]);
    const disconnects = await browserPage.evaluate(() => (globalThis as unknown as PageState).disconnects);
    expect(disconnects).toEqual([{ code: 4010, willReconnect: false }]);
    expect(server.connections).toHaveLength(1);
  });
});
