import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { ServerFrame } from "@herald/protocol";
import {
  connectClient,
  natsServiceEnv,
  openClient,
  repoRoot,
  type Service,
  signSubscriptionToken,
  signToken,
  startService,
  type TestClient,
  type TokenClaims,
  waitUntil,
  withTimeout,
} from "@herald/testkit";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { dripUpgradeHeaders, sendPipelined } from "./support/raw-sockets.js";
import { useStack } from "./support/use-stack.js";

const KEYS = { k1: randomBytes(32).toString("hex"), k2: randomBytes(32).toString("hex") };

// The limits the outside tester met: 100 subscriptions, 100 frames/s with a burst of 200 (the defaults).
const world = useStack({
  envFor: {
    connector: {
      HERALD_JWT_SECRETS: `k1=${KEYS.k1},k2=${KEYS.k2}`,
      HERALD_MAX_TOKEN_LIFETIME: "2h",
      HERALD_HEADERS_TIMEOUT: "2s",
    },
  },
});

const secret = () => world.stack.jwtSecret;
const url = async (sub: string, claims: Omit<TokenClaims, "sub"> = {}) =>
  world.stack.wsUrl(await signToken({ sub, ...claims }, secret()));
/** How a connection attempt ended; a deadline, so an attempt that is wrongly let in fails fast. */
const ending = (client: TestClient) => withTimeout(client.closed, 10_000, "the connection to be refused");
const refusal = async (target: string) => (await ending(openClient(target))).httpStatus;

describe("5. every token expires, within the maximum lifetime", () => {
  it("refuses a token without exp, and one valid for longer than HERALD_MAX_TOKEN_LIFETIME", async () => {
    expect(await refusal(await url("forever", { exp: null }))).toBe(401);
    expect(await refusal(await url("forever", { exp: "3h" }))).toBe(401);
    const viaFrame = openClient(world.stack.wsUrl(), {
      authToken: await signToken({ sub: "forever", exp: null }, secret()),
    });
    expect((await ending(viaFrame)).code).toBe(4001);
    const allowed = await connectClient(await url("forever", { exp: "110m" }));
    await allowed.close();
  });

  it("refuses a refresh without exp: the connection still ends at the first token's expiry (4003)", async () => {
    const client = await connectClient(await url("lifter", { exp: Math.floor(Date.now() / 1000) + 3 }));
    client.send({ type: "refresh", token: await signToken({ sub: "lifter", exp: null }, secret()) });
    await client.waitFor((f) => f.type === "error" && f.code === "unauthorized");
    const closed = await withTimeout(client.closed, 10_000, "the close at the first token's expiry");
    expect(closed.code).toBe(4003);
  });
});

describe("6. connection and subscription tokens are told apart", () => {
  it("a subscription token opens no session, and only a typed subscription token grants a channel", async () => {
    const grant = await signSubscriptionToken({ sub: "vip", channel: "private-room" }, secret());
    expect(await refusal(world.stack.wsUrl(grant))).toBe(401);
    expect((await ending(openClient(world.stack.wsUrl(), { authToken: grant }))).code).toBe(4001);
    // How subscription tokens looked before typing: a plain JWT with a channel claim. Neither use accepts it.
    const untyped = await signToken({ sub: "vip", extra: { channel: "private-room" } }, secret());
    expect(await refusal(world.stack.wsUrl(untyped))).toBe(401);
    const client = await connectClient(await url("vip", { channels: ["private-*"] }));
    client.send({ type: "refresh", token: grant });
    await client.waitFor((f) => f.type === "error" && f.code === "unauthorized");
    client.send({ type: "subscribe", channel: "private-room", token: untyped });
    await waitUntil(() => client.frames.filter((f) => f.type === "error").length >= 2);
    expect(client.frames.some((f) => f.type === "subscribed")).toBe(false);
    client.send({ type: "subscribe", channel: "private-room", token: grant });
    await client.waitFor((f) => f.type === "subscribed" && f.channel === "private-room");
    await client.close();
  });

  it("a connector given a JWKS URL without an audience (or over plain http) refuses to start, listing both", () => {
    const result = spawnSync(process.execPath, [join(repoRoot, "apps", "connector", "dist", "main.js")], {
      env: {
        ...process.env,
        NATS_URL: world.nats.url,
        HERALD_JWKS_URL: "http://id.example.com/jwks.json",
        HERALD_JWT_SECRET: "sixteen-chars-ok",
      },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/HERALD_JWT_AUDIENCE/);
    expect(result.stderr).toMatch(/HERALD_JWKS_URL: must be https/);
    expect(result.stderr).toMatch(/HERALD_JWT_SECRET: .*at least 32 bytes/);
  });

  it("HS256 keys are picked by kid, so two keys work at once and an unknown kid is refused", async () => {
    for (const kid of ["k1", "k2"] as const) {
      const client = await connectClient(
        world.stack.wsUrl(await signToken({ sub: `kid-${kid}`, kid }, KEYS[kid])),
      );
      expect(client.frames[0]).toMatchObject({ type: "welcome", userId: `kid-${kid}` });
      await client.close();
    }
    expect(await refusal(world.stack.wsUrl(await signToken({ sub: "kid-x", kid: "k3" }, KEYS.k1)))).toBe(401);
    expect(await refusal(world.stack.wsUrl(await signToken({ sub: "kid-y", kid: "k1" }, KEYS.k2)))).toBe(401);
  });
});

describe("7. the subscription limit holds against pipelined frames", () => {
  it("150 subscribe frames in one TCP write: exactly 100 succeed, 50 are refused", async () => {
    const client = await connectClient(await url("pipeliner", { channels: ["pipe-*"] }));
    const frames = Array.from({ length: 150 }, (_, i) => ({ type: "subscribe", channel: `pipe-${i}` }));
    sendPipelined(client, frames);
    const count = (predicate: (f: ServerFrame) => boolean) => client.frames.filter(predicate).length;
    const refused = (f: ServerFrame) => f.type === "error" && f.code === "too_many_subscriptions";
    await waitUntil(() => count((f) => f.type === "subscribed") + count(refused) >= 150, {
      timeoutMs: 20_000,
      message: () => `150 answers; got ${client.frames.length}`,
    });
    expect(count((f) => f.type === "subscribed")).toBe(100);
    expect(count(refused)).toBe(50);
    await client.close();
  });
});

describe("8. acks count against the frame rate limit unless they free in-flight messages", () => {
  it("2,000 acks of an already-acked id are rate limited: most are dropped, or the flooder is closed (4009)", async () => {
    const client = await connectClient(await url("re-acker"));
    await world.backend.toUser("re-acker", { data: 1, id: "once" });
    await client.waitFor((f) => f.type === "message" && f.id === "once");
    client.ack(["once"]);
    sendPipelined(
      client,
      Array.from({ length: 2_000 }, () => ({ type: "ack", ids: ["once"] })),
    );
    // A burst of 200 passes and the bucket refills at 100/s while the frames are handled; the rest are
    // dropped with `rate_limited` until more than a burst's worth in a row closes the socket.
    const dropped = () => client.frames.filter((f) => f.type === "error" && f.code === "rate_limited").length;
    await waitUntil(() => client.closeInfo()?.code === 4009 || dropped() >= 1_000, {
      message: () => `rate limiting; ${dropped()} dropped, closed ${JSON.stringify(client.closeInfo())}`,
    });
    await client.close();
  });

  it("acks that free in-flight messages are not limited: 400 messages acked one by one", async () => {
    const client = await connectClient(await url("steady-acker"), { autoAck: true });
    await world.backend.pipeline(400, (i) => ({
      subject: world.backend.s.sendUser("steady-acker"),
      body: { data: i, id: `steady-${i}` },
    }));
    await client.waitForMessages(400, 30_000);
    // Sent after every ack above left the client, so the connector has handled them when this arrives.
    await world.backend.toUser("steady-acker", { data: "last", id: "steady-last" });
    await client.waitFor((f) => f.type === "message" && f.id === "steady-last");
    expect(client.frames.filter((f) => f.type === "error")).toEqual([]);
    expect(client.closeInfo()).toBeUndefined();
    await client.close();
  });
});

describe("9. the upgrade request has a header deadline", () => {
  it("a client dripping its upgrade headers is cut off after HERALD_HEADERS_TIMEOUT (2 s here)", async () => {
    const connector = world.stack.connectors[0]!;
    const result = await dripUpgradeHeaders(connector.port, 300, 15_000);
    expect(result.closedAfterMs).toBeLessThan(6_000);
    expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
    // Others are served meanwhile and after.
    const client = await connectClient(await url("after-drip"));
    await client.close();
  });
});

describe("10. the client address behind trusted proxies", () => {
  const viaProxy = (forwardedFor: string) => ({
    headers: { "X-Forwarded-For": forwardedFor },
    localAddress: "127.0.0.31",
  });

  async function connector(env: Record<string, string>): Promise<Service> {
    const service = await startService("connector", {
      NATS_URL: world.nats.url,
      ...natsServiceEnv(world.nats, "connector"),
      HERALD_JWT_SECRET: secret(),
      HERALD_MAX_CONNECTIONS_PER_IP: "2",
      ...env,
    });
    await service.waitReady();
    return service;
  }
  const wsUrl = async (service: Service, sub: string) =>
    `ws://127.0.0.1:${service.port}/ws?token=${encodeURIComponent(await signToken({ sub }, secret()))}`;

  it("with HERALD_TRUSTED_PROXIES (CIDR), clients behind one proxy address each get their own limit, and a client-written entry is not believed", async () => {
    const service = await connector({ HERALD_TRUSTED_PROXIES: "127.0.0.0/8, 10.0.0.0/8" });
    try {
      const distinct = [];
      for (let i = 1; i <= 4; i++) {
        distinct.push(await connectClient(await wsUrl(service, `behind-${i}`), viaProxy(`203.0.113.${i}`)));
      }
      // Each forged left-most entry differs; the proxy-written entries (a client, then an inner proxy) do not.
      const forged = (n: number) => viaProxy(`198.51.100.${n}, 203.0.113.50, 10.1.2.3`);
      const first = await connectClient(await wsUrl(service, "forger-1"), forged(1));
      const second = await connectClient(await wsUrl(service, "forger-2"), forged(2));
      expect((await ending(openClient(await wsUrl(service, "forger-3"), forged(3)))).httpStatus).toBe(429);
      await Promise.all([...distinct, first, second].map((c) => c.close()));
    } finally {
      await service.stop();
    }
  });

  it("with the deprecated HERALD_TRUST_PROXY=true (one hop), the right-most entry is the client", async () => {
    const service = await connector({ HERALD_TRUST_PROXY: "true" });
    try {
      const forged = (n: number) => viaProxy(`198.51.100.${n}, 203.0.113.60`);
      const first = await connectClient(await wsUrl(service, "hop-1"), forged(1));
      const second = await connectClient(await wsUrl(service, "hop-2"), forged(2));
      expect((await ending(openClient(await wsUrl(service, "hop-3"), forged(3)))).httpStatus).toBe(429);
      const other = await connectClient(
        await wsUrl(service, "hop-4"),
        viaProxy("198.51.100.9, 203.0.113.61"),
      );
      await Promise.all([first, second, other].map((c) => c.close()));
    } finally {
      await service.stop();
    }
  });
});

describe("a refresh that narrows the channels claim", () => {
  it("ends the subscriptions it no longer allows with an unsubscribed frame", async () => {
    const client = await connectClient(await url("narrowed", { channels: ["keep-*", "drop-*"] }));
    for (const channel of ["keep-1", "drop-1"]) client.send({ type: "subscribe", channel });
    await waitUntil(() => client.frames.filter((f) => f.type === "subscribed").length === 2);
    client.send({
      type: "refresh",
      token: await signToken({ sub: "narrowed", channels: ["keep-*"] }, secret()),
    });
    const ended = await client.waitFor((f) => f.type === "unsubscribed");
    expect(ended).toMatchObject({ type: "unsubscribed", channel: "drop-1", code: "forbidden" });
    await world.backend.publish(world.backend.s.sendChannel("drop-1"), { data: "gone", id: "drop-msg" });
    await world.backend.publish(world.backend.s.sendChannel("keep-1"), { data: "kept", id: "keep-msg" });
    await client.waitFor((f) => f.type === "message" && f.id === "keep-msg");
    expect(client.frames.some((f) => f.type === "message" && f.id === "drop-msg")).toBe(false);
    await client.close();
  });
});

describe("JWKS outage", () => {
  it("keeps verifying with the last good keys while the JWKS host is down", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "es-1", alg: "ES256" }] };
    const host: Server = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
    const service = await startService("connector", {
      NATS_URL: world.nats.url,
      ...natsServiceEnv(world.nats, "connector"),
      HERALD_JWKS_URL: `http://127.0.0.1:${(host.address() as AddressInfo).port}/jwks.json`,
      HERALD_JWT_AUDIENCE: "herald-e2e",
      HERALD_JWKS_CACHE_MAX_AGE: "1s",
      HERALD_JWKS_COOLDOWN: "1s",
    });
    try {
      await service.waitReady();
      const sign = (sub: string) =>
        new SignJWT({})
          .setProtectedHeader({ alg: "ES256", kid: "es-1" })
          .setSubject(sub)
          .setAudience("herald-e2e")
          .setExpirationTime("5m")
          .sign(privateKey);
      const target = async (sub: string) =>
        `ws://127.0.0.1:${service.port}/ws?token=${encodeURIComponent(await sign(sub))}`;
      await (await connectClient(await target("before-outage"))).close();
      await new Promise<void>((resolve) => {
        host.close(() => resolve());
        host.closeAllConnections();
      });
      // The keys are now past their cache age: each connection below would have needed a fetch.
      const started = Date.now();
      while (Date.now() - started < 2_500) {
        await (await connectClient(await target("during-outage"))).close();
      }
      const wrongAudience = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "es-1" })
        .setSubject("elsewhere")
        .setAudience("another-service")
        .setExpirationTime("5m")
        .sign(privateKey);
      expect(await refusal(`ws://127.0.0.1:${service.port}/ws?token=${wrongAudience}`)).toBe(401);
    } finally {
      await service.stop();
    }
  });
});
