import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  connectClient,
  type NatsServer,
  repoRoot,
  type ServiceName,
  type Stack,
  signToken,
  startNatsServer,
  startStack,
} from "@herald/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let nats: NatsServer;
let stack: Stack;

beforeAll(async () => {
  nats = await startNatsServer();
  stack = await startStack({ nats });
});

afterAll(async () => {
  await stack?.stop().catch(() => {});
  await nats?.dispose();
});

describe("every service", () => {
  it.each<ServiceName>(["persistence", "router", "presence", "connector"])(
    "%s answers /healthz, /readyz and /metrics",
    async (name) => {
      const service = stack.all().find((s) => s.name === name)!;
      const base = `http://127.0.0.1:${service.adminPort}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain(`herald_process_cpu_seconds_total{service="${name}"}`);
    },
  );

  it.each<[ServiceName, Record<string, string>, RegExp]>([
    ["connector", { HERALD_JWT_SECRET: "" }, /HERALD_JWT_SECRET/],
    ["connector", { HERALD_JWT_SECRET: "x".repeat(32), PORT: "99999" }, /PORT/],
    ["persistence", { HERALD_RETENTION: "forever" }, /HERALD_RETENTION/],
    ["router", { HERALD_PREFIX: "bad prefix" }, /HERALD_PREFIX/],
    ["presence", { NATS_URL: "not a url" }, /NATS_URL/],
    ["persistence", { HERALD_CHANNEL_RETENTION: "chat-*=lots" }, /HERALD_CHANNEL_RETENTION/],
  ])("%s exits 1 with a clear message for invalid env %j", (name, env, message) => {
    const result = spawnSync(process.execPath, [join(repoRoot, "apps", name, "dist", "main.js")], {
      env: { ...process.env, NATS_URL: nats.url, ...env },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it("drain on SIGTERM in order and exit 0; the connector tells clients to reconnect elsewhere (1001)", async () => {
    const client = await connectClient(stack.wsUrl(await signToken({ sub: "drained" }, stack.jwtSecret)));
    const connector = stack.connectors[0]!;
    const code = await connector.stop();
    expect(code).toBe(0);
    expect((await client.closed).code).toBe(1001);
    for (const service of [...stack.routers, ...stack.presence, ...stack.persistence]) {
      expect(await service.stop(), service.name).toBe(0);
    }
  });
});
