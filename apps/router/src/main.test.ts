import { type MailboxEntry, subjects } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { createStreams, exitCode, readAll, spawnRouter, useTestServer, waitFor } from "./test/support.js";

const world = useTestServer({ build: true });

describe("node apps/router/dist/main.js", () => {
  it("is ready once the streams exist, routes, exports metrics and drains on SIGTERM", async () => {
    const s = subjects("main");
    const proc = spawnRouter({ NATS_URL: world.server.url, HERALD_PREFIX: "main" });
    try {
      const base = `http://127.0.0.1:${await proc.adminPort()}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const waiting = await waitFor("a not-ready answer naming the stream", async () => {
        const res = await fetch(`${base}/readyz`);
        const body = (await res.json()) as { reason?: string };
        return res.status === 503 && body.reason?.includes(s.streams.intake) && body;
      });
      expect(waiting.reason).toBe(
        `waiting for stream ${s.streams.intake}: not created yet (persistence creates it)`,
      );

      await createStreams(world.client.jsm, s);
      await waitFor("readiness", async () => (await fetch(`${base}/readyz`)).status === 200);

      await world.client.js.publish(s.sendUser("amy"), JSON.stringify({ data: "hello", id: "p1" }));
      await world.client.js.publish(s.sendUser("a.b"), JSON.stringify({ data: "dead" }));
      const [stored] = await waitFor("the mailbox entry", async () => {
        const all = await readAll(world.client.jsm, s.streams.mailbox, s.mailbox("amy"));
        return all.length > 0 && all;
      });
      expect(stored?.json<MailboxEntry>()).toMatchObject({ id: "p1", data: "hello" });

      const metrics = await waitFor("metrics", async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return (
          text.includes('herald_router_dead_letters_total{reason="invalid_user_id",service="router"} 1') &&
          text
        );
      });
      expect(metrics).toContain('herald_router_routed_messages_total{target="user",service="router"} 1');
      expect(metrics).toContain("herald_router_routing_duration_seconds_count");
      expect(metrics).toContain("herald_process_cpu_seconds_total");

      proc.child.kill("SIGTERM");
      expect(await exitCode(proc.child)).toBe(0);
      expect(proc.output()).toContain("router drained");
      const info = await world.client.jsm.consumers.info(s.streams.intake, s.consumers.router);
      expect(info.num_ack_pending).toBe(0);
    } finally {
      proc.child.kill("SIGKILL");
    }
  }, 60_000);

  it("exits 0 on SIGTERM while still waiting for the streams", async () => {
    const proc = spawnRouter({ NATS_URL: world.server.url, HERALD_PREFIX: "nostreams" });
    const base = `http://127.0.0.1:${await proc.adminPort()}`;
    await waitFor("waiting", async () => (await fetch(`${base}/readyz`)).status === 503);
    proc.child.kill("SIGTERM");
    expect(await exitCode(proc.child)).toBe(0);
  }, 30_000);

  it("exits 1 with a clear message when the environment is invalid", async () => {
    const proc = spawnRouter({
      NATS_URL: world.server.url,
      ROUTER_PREFETCH: "many",
      ROUTER_ACK_WAIT: "100ms",
    });
    expect(await exitCode(proc.child)).toBe(1);
    expect(proc.output()).toContain("invalid configuration");
    expect(proc.output()).toContain("ROUTER_PREFETCH");
    expect(proc.output()).toContain("ROUTER_ACK_WAIT must be at least 1s");
  }, 30_000);
});
