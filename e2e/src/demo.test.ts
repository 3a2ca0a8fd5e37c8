import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type DemoServer, startDemoServer } from "@herald/demo";
import { subjects } from "@herald/protocol";
import {
  type NatsServer,
  natsClientOptions,
  repoRoot,
  type Stack,
  startNatsServer,
  startStack,
  waitUntil,
} from "@herald/testkit";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromiumLaunchOptions } from "../../scripts/lib/chromium.mjs";
import { type Backend, connectBackend } from "./support/backend.js";

// The demo page of `npm run dev` (demo/) in Debian's Chromium against a real stack: what a user sees when
// messages stream in, and when the connector dies under them.

let nats: NatsServer | undefined;
let stack: Stack | undefined;
let demo: DemoServer | undefined;
let browser: Browser | undefined;
let backend: Backend | undefined;
const pages: Page[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  stack = await startStack({ nats });
  demo = await startDemoServer({
    nats: natsClientOptions(nats, "publisher"),
    wsUrl: stack.wsUrl(),
    jwtSecret: stack.jwtSecret,
  });
  backend = await connectBackend(nats);
  browser = await chromium.launch(chromiumLaunchOptions());
});

afterEach(async () => {
  await Promise.all(pages.splice(0).map((page) => page.close()));
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  await backend?.close();
  await stack?.stop().catch(() => {});
  await nats?.dispose();
});

type Entry = { id: string; seq: number; text: string; state: string; badge: string };

async function openDemo(query: string): Promise<Page> {
  if (!browser || !demo) throw new Error("not started");
  const page = await browser.newPage({ viewport: { width: 1200, height: 640 } });
  pages.push(page);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${demo.url}?${query}`);
  await page.waitForSelector('#state[data-state="connected"]', { timeout: 30_000 }).catch((error: Error) => {
    throw new Error(`${error.message}; page errors: ${errors.join("; ")}`);
  });
  return page;
}

function inbox(page: Page): Promise<Entry[]> {
  return page.$$eval("#inbox li", (items) =>
    items.map((item) => ({
      id: (item as HTMLElement).dataset.id ?? "",
      seq: Number((item as HTMLElement).dataset.seq),
      text: item.querySelector(".body")?.textContent ?? "",
      state: (item as HTMLElement).dataset.state ?? "",
      badge: item.querySelector(".badge")?.textContent ?? "",
    })),
  );
}

/** Publishes through the demo server's API, as the page's own forms do. */
async function publish(path: "user" | "channel", body: Record<string, unknown>): Promise<void> {
  if (!demo) throw new Error("not started");
  const response = await fetch(new URL(`/api/publish/${path}`, demo.url), {
    method: "POST",
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

async function inboxOf(page: Page, count: number, timeoutMs = 60_000): Promise<Entry[]> {
  let entries: Entry[] = [];
  await waitUntil(
    async () => {
      entries = await inbox(page);
      return entries.length >= count;
    },
    { timeoutMs, message: `${count} inbox entries` },
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}; the page shows ${entries.length}: ${JSON.stringify(entries.slice(-3))}`,
    );
  });
  return entries;
}

describe("the demo page", () => {
  it("shows notifications once and in order, chat history, and presence", async () => {
    for (let n = 1; n <= 3; n += 1)
      await publish("channel", { channel: "lobby", data: { from: "bob", text: `old ${n}` } });
    const page = await openDemo("user=dana&device=e2e-a");
    for (let n = 1; n <= 10; n += 1)
      await publish("user", { userId: "dana", data: { from: "bob", text: `note ${n}` } });

    const entries = await inboxOf(page, 10);
    expect(entries.map((entry) => entry.text)).toEqual(
      Array.from({ length: 10 }, (_, i) => `bob: note ${i + 1}`),
    );
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(10);
    expect(entries.every((entry) => entry.state === "unread")).toBe(true);
    expect(await page.textContent("#unread")).toBe("10 unread");

    // The channel's retained history first (since 0), then what the page itself sends.
    await page.fill("#say-text", "hello from the page");
    await page.click('#say button[type="submit"]');
    await page.waitForFunction(() => document.querySelectorAll("#chat li").length >= 4, undefined, {
      timeout: 30_000,
    });
    const chat = await page.$$eval("#chat li", (items) => items.map((item) => item.textContent));
    expect(chat).toEqual(["1bobold 1", "2bobold 2", "3bobold 3", "4danahello from the page"]);
    expect(await page.textContent("#recovered")).toBe("history recovered");

    await page.waitForSelector('#presence li[data-user="dana"][data-online="true"]', { timeout: 30_000 });
    expect(await page.textContent('#presence li[data-user="carol"]')).toContain("offline");

    // Reading acks: one by one, then all; the cursor API then reports nothing pending for this device.
    for (let n = 1; n <= 4; n += 1) await page.click(`#inbox li:nth-child(${n})`);
    expect((await inbox(page)).map((entry) => entry.state)).toEqual([
      ...Array<string>(4).fill("acked"),
      ...Array<string>(6).fill("unread"),
    ]);
    expect(await page.textContent("#unread")).toBe("6 unread");
    const shots = join(repoRoot, ".herald");
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, "demo.png") });
    await page.click("#read-all");
    expect(await page.textContent("#unread")).toBe("0 unread");
    await waitUntil(
      async () => {
        const cursor = await backend?.request<{ devices: { deviceId: string; pending: number }[] }>(
          subjects(nats?.auth?.prefix).cursorGet,
          { userId: "dana" },
        );
        return cursor?.devices.find((device) => device.deviceId === "e2e-a")?.pending === 0;
      },
      { timeoutMs: 20_000, message: "no pending messages for dana's e2e-a" },
    );
  });

  it("shows every message exactly once after a kill -9 of the connector mid-stream", async () => {
    const page = await openDemo("user=erin&device=e2e-b");
    const total = 60;
    const connector = stack?.connectors[0];
    if (!connector) throw new Error("no connector");
    // The stream holds at message 30 until the connector is dead and at 45 until it is back, so messages are
    // published before the kill, while it is down and after the restart, however slow this machine is.
    let killed = () => {};
    let restarted = () => {};
    const gates = new Map<number, Promise<void>>([
      [30, new Promise<void>((resolve) => (killed = resolve))],
      [45, new Promise<void>((resolve) => (restarted = resolve))],
    ]);
    const publishing = (async () => {
      for (let n = 1; n <= total; n += 1) {
        await gates.get(n);
        await publish("user", { userId: "erin", data: { text: `msg ${n}` } });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await inboxOf(page, 10, 30_000);
    await connector.kill();
    killed();
    await page.waitForSelector('#state:not([data-state="connected"])', { timeout: 10_000 });
    await connector.restart();
    restarted();
    await publishing;

    const entries = await inboxOf(page, total);
    expect(entries.map((entry) => entry.text)).toEqual(
      Array.from({ length: total }, (_, i) => `msg ${i + 1}`),
    );
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(total);
    expect(entries.map((entry) => entry.seq)).toEqual(
      [...entries.map((entry) => entry.seq)].sort((a, b) => a - b),
    );
    // Nothing was acked (all unread), so the server sent the early ones again after the reconnect: the page
    // shows them once, marked as delivered twice.
    await waitUntil(async () => (await inbox(page)).some((entry) => entry.badge.includes("delivered 2×")), {
      timeoutMs: 30_000,
      message: "a redelivered entry",
    });
    const after = await inbox(page);
    expect(after).toHaveLength(total);
    expect(await page.textContent("#state")).toBe("connected");
  });
  it("answers bad requests with a clear 400 and keeps serving", async () => {
    if (!demo) throw new Error("not started");
    const post = async (path: string, body: string) => {
      const response = await fetch(new URL(path, demo?.url), { method: "POST", body });
      return { status: response.status, body: (await response.json()) as { error?: { code: string } } };
    };
    const bad = [
      await post("/api/token", "not json"),
      await post("/api/token", JSON.stringify({ userId: "a b", deviceId: "d" })),
      await post("/api/token", JSON.stringify({ userId: "a", deviceId: "d", channels: ["no spaces"] })),
      await post("/api/publish/user", JSON.stringify({ userId: "x>y", data: 1 })),
      await post("/api/publish/user", JSON.stringify({ userId: "ok" })),
      await post("/api/publish/channel", JSON.stringify({ channel: "a.b", data: 1 })),
      await post("/api/publish/channel", "[1]"),
    ];
    for (const answer of bad)
      expect(answer).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    const presence = await fetch(new URL("/api/presence?userIds=", demo.url));
    expect(presence.status).toBe(400);
    const token = await post(
      "/api/token",
      JSON.stringify({ userId: "ok", deviceId: "d", channels: ["lobby"] }),
    );
    expect(token.status).toBe(200);
  });
});
