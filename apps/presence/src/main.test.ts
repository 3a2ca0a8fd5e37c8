import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { subjects } from "@herald/protocol";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventLog, FakeConnector } from "./test/fake-connector.js";
import { type NatsServer, startNatsServer, waitFor } from "./test/nats-server.js";

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(appDir, "../..");

type Proc = { child: ChildProcess; port: Promise<number>; exit: Promise<number | null>; lines: string[] };

function startMain(url: string, prefix: string): Proc {
  const child = spawn(process.execPath, [resolve(appDir, "dist/main.js")], {
    env: {
      ...process.env,
      NATS_URL: url,
      HERALD_PREFIX: prefix,
      ADMIN_PORT: "0",
      PRESENCE_SYNC_WAIT: "300ms",
      PRESENCE_LEASE_TTL: "1s",
      PRESENCE_LEASE_RENEW: "300ms",
      PRESENCE_CONNECTOR_TIMEOUT: "2s",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const port = new Promise<number>((resolvePort, reject) => {
    child.stdout?.setEncoding("utf8");
    let buffered = "";
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        lines.push(line);
        const parsed = JSON.parse(line) as { msg?: string; port?: number };
        if (parsed.msg === "admin listening" && parsed.port) resolvePort(parsed.port);
      }
    });
    child.once("exit", () => reject(new Error(`exited early:\n${lines.join("\n")}`)));
  });
  port.catch(() => {});
  const exit = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return { child, port, exit, lines };
}

const fetchText = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
};

let server: NatsServer;
let nc: NatsConnection;
const procs: Proc[] = [];

beforeAll(async () => {
  execFileSync("npx", ["tsc", "-b", "apps/presence"], { cwd: repoRoot, stdio: "inherit" });
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
}, 120_000);
afterAll(async () => {
  for (const p of procs) p.child.kill("SIGKILL");
  await nc?.close();
  await server?.stop();
});

describe("node apps/presence/dist/main.js", () => {
  it("starts, becomes ready, serves metrics, survives kill -9 of the emitter and drains on SIGTERM", async () => {
    const prefix = `main${process.pid}`;
    const s = subjects(prefix);
    const events = new EventLog(nc, s);
    const connector = new FakeConnector(nc, s, "c1");
    const a = startMain(server.url, prefix);
    const b = startMain(server.url, prefix);
    procs.push(a, b);
    const ports = [await a.port, await b.port];
    for (const port of ports) {
      expect((await fetchText(port, "/healthz")).status).toBe(200);
      await waitFor(async () => (await fetchText(port, "/readyz")).status === 200, "ready");
    }
    const emitterPort = await waitFor(async () => {
      for (const port of ports) {
        if (
          (await fetchText(port, "/metrics")).text.includes('herald_presence_emitter{service="presence"} 1')
        )
          return port;
      }
      return undefined;
    }, "one emitter");
    connector.open("alice");
    connector.open("bob");
    await waitFor(() => events.events.length === 2, "two online events");
    const metrics = (await fetchText(emitterPort, "/metrics")).text;
    expect(metrics).toMatch(/herald_presence_users\{service="presence"\} 2/);
    expect(metrics).toMatch(/herald_presence_connections\{service="presence"\} 2/);
    expect(metrics).toMatch(/herald_presence_connectors\{service="presence"\} 1/);
    expect(metrics).toMatch(/herald_presence_events_total\{type="online",service="presence"\} 2/);

    const [victim, survivor] = emitterPort === ports[0] ? [a, b] : [b, a];
    victim.child.kill("SIGKILL");
    await victim.exit;
    connector.closeUser("alice");
    await waitFor(() => events.of("alice").length === 2, "offline published by the survivor", 5000);
    const reply = await nc.request(s.presenceGet, JSON.stringify({ userId: "bob" }), { timeout: 2000 });
    expect(reply.json<{ online: boolean }>().online).toBe(true);

    survivor.child.kill("SIGTERM");
    expect(await survivor.exit).toBe(0);
    expect(survivor.lines.some((l) => l.includes("drained; bye"))).toBe(true);
    expect(events.events.map((e) => `${e.userId}:${e.type}`).sort()).toEqual([
      "alice:offline",
      "alice:online",
      "bob:online",
    ]);
    events.stop();
    connector.stop();
  }, 60_000);

  it("exits non-zero with a clear message on invalid configuration", () => {
    let failure: { status: number | null; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [resolve(appDir, "dist/main.js")], {
        env: { ...process.env, PRESENCE_CONNECTOR_TIMEOUT: "soon" },
        stdio: "pipe",
      });
    } catch (err) {
      const e = err as { status: number | null; stderr: Buffer };
      failure = { status: e.status, stderr: e.stderr.toString() };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stderr).toContain("PRESENCE_CONNECTOR_TIMEOUT");
  });
});
