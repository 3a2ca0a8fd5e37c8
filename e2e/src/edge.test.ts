import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  connectClient,
  natsServiceEnv,
  openClient,
  type Service,
  signToken,
  startService,
  waitUntil,
} from "@herald/testkit";
import fc from "fast-check";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useStack } from "./support/use-stack.js";

const world = useStack({
  envFor: {
    connector: {
      HERALD_RATE_LIMIT: "20",
      HERALD_RATE_BURST: "20",
      HERALD_MAX_SUBSCRIPTIONS: "3",
      HERALD_MAX_CONNECTIONS_PER_IP: "6",
      HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: "30",
      // A short queue, so a burst of 60 sees both a wait and a refusal.
      HERALD_NEW_CONNECTION_MAX_WAIT: "200ms",
    },
  },
});

const token = (sub: string, extra: Record<string, unknown> = {}) =>
  signToken({ sub, channels: ["*"], extra }, world.stack.jwtSecret);
/** Connections from another loopback address, so per-address limits of one test do not touch another. */
const from = (address: string) => ({ localAddress: address });

async function bystander(address: string) {
  const user = `bystander-${address.replaceAll(".", "-")}`;
  const client = await connectClient(world.stack.wsUrl(await token(user)), {
    autoAck: true,
    ...from(address),
  });
  return {
    client,
    async stillServed(id: string) {
      await world.backend.toUser(user, { data: "still here", id });
      await client.waitFor((f) => f.type === "message" && f.id === id);
    },
  };
}

describe("limits", () => {
  it("drops frames over the rate limit with rate_limited, then closes a flooder with 4009; others unaffected", async () => {
    const other = await bystander("127.0.0.11");
    const flooder = await connectClient(world.stack.wsUrl(await token("flooder")), from("127.0.0.12"));
    for (let i = 0; i < 30; i++) flooder.send({ type: "unsubscribe", channel: `c${i}` });
    await flooder.waitFor((f) => f.type === "error" && f.code === "rate_limited");
    for (let i = 0; i < 100; i++) flooder.send({ type: "unsubscribe", channel: `c${i}` });
    expect((await flooder.closed).code).toBe(4009);
    await other.stillServed("rate-ok");
    await other.client.close();
  });

  it("refuses subscriptions past the per-connection limit", async () => {
    const client = await connectClient(world.stack.wsUrl(await token("subscriber")), from("127.0.0.13"));
    for (const channel of ["a", "b", "c"]) client.send({ type: "subscribe", channel });
    await waitUntil(() => client.frames.filter((f) => f.type === "subscribed").length === 3);
    client.send({ type: "subscribe", channel: "d" });
    await client.waitFor((f) => f.type === "error" && f.code === "too_many_subscriptions");
    client.send({ type: "unsubscribe", channel: "a" });
    client.send({ type: "subscribe", channel: "d" });
    await client.waitFor((f) => f.type === "subscribed" && f.channel === "d");
    await client.close();
  });

  it("answers 429 at the upgrade past the connections per address; other addresses unaffected", async () => {
    const clients = [];
    for (let i = 0; i < 6; i++)
      clients.push(await connectClient(world.stack.wsUrl(await token(`ip${i}`)), from("127.0.0.14")));
    const refused = openClient(world.stack.wsUrl(await token("ip-extra")), from("127.0.0.14"));
    expect((await refused.closed).httpStatus).toBe(429);
    const other = await bystander("127.0.0.15");
    await other.stillServed("ip-ok");
    await clients[0]!.close();
    await waitUntil(async () => {
      const retry = openClient(world.stack.wsUrl(await token("ip-retry")), from("127.0.0.14"));
      const ok = await retry.opened.then(
        () => true,
        () => false,
      );
      if (ok) await retry.close();
      return ok;
    });
    await Promise.all([...clients.slice(1).map((c) => c.close()), other.client.close()]);
  });

  it("queues upgrades past the new connections per second, then answers 503", async () => {
    const tokenFor = await token("burst");
    const attempts = Array.from({ length: 60 }, (_, i) =>
      openClient(world.stack.wsUrl(tokenFor), from(`127.0.1.${(i % 50) + 1}`)),
    );
    const outcomes = await Promise.all(
      attempts.map((c) =>
        c.opened.then(
          () => "open",
          async () => String((await c.closed).httpStatus),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === "503").length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === "open").length).toBeGreaterThan(0);
    await Promise.all(attempts.map((c) => (c.closeInfo() ? undefined : c.close())));
    // Let the bucket refill (its queue drained first) for the tests after this one.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
  });
});

describe("token refresh", () => {
  it("keeps a connection open past the first token's expiry when refreshed, and refuses another user's token", async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const client = await connectClient(
      world.stack.wsUrl(await signToken({ sub: "refresher", exp }, world.stack.jwtSecret)),
      from("127.0.0.16"),
    );
    client.send({
      type: "refresh",
      token: await signToken({ sub: "intruder", exp: "1h" }, world.stack.jwtSecret),
    });
    await client.waitFor((f) => f.type === "error" && f.code === "unauthorized");
    client.send({
      type: "refresh",
      token: await signToken({ sub: "refresher", exp: "1h" }, world.stack.jwtSecret),
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(client.closeInfo()).toBeUndefined();
    await world.backend.toUser("refresher", { data: 1, id: "r-1" });
    await client.waitFor((f) => f.type === "message" && f.id === "r-1");
    await client.close();
  });
});

describe("fuzzed frames", () => {
  it("10,000 generated frames reach the handlers, and neither crash the connector nor disturb another connection", async () => {
    // A connector without a frame rate limit, so every generated frame is handled rather than dropped.
    const connector = await startService("connector", {
      NATS_URL: world.nats.url,
      ...natsServiceEnv(world.nats, "connector"),
      HERALD_JWT_SECRET: world.stack.jwtSecret,
      HERALD_RATE_LIMIT: "1000000",
      HERALD_RATE_BURST: "1000000",
    });
    await connector.waitReady();
    const url = async (sub: string) =>
      `ws://127.0.0.1:${connector.port}/ws?token=${encodeURIComponent(await token(sub))}`;
    const other = await connectClient(await url("fuzz-bystander"), { autoAck: true });
    const arbitraryFrame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc
        .record({
          type: fc.constantFrom("ack", "subscribe", "unsubscribe", "auth", "refresh", "teleport"),
          ids: fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }),
          channel: fc.string({ maxLength: 40 }),
          since: fc.oneof(fc.integer(), fc.double(), fc.string()),
          token: fc.string({ maxLength: 60 }),
        })
        .map((frame) => JSON.stringify(frame)),
    );
    const frames = fc.sample(arbitraryFrame, 10_000);
    const fuzzer = await connectClient(await url("fuzzer"));
    for (const frame of frames) fuzzer.send(frame);
    // Each frame is answered (mostly with an error frame) or accepted; wait until the answers stop growing.
    let last = -1;
    await waitUntil(
      async () => {
        const now = fuzzer.frames.length;
        const settled = now === last;
        last = now;
        await new Promise((resolve) => setTimeout(resolve, 200));
        return settled;
      },
      { timeoutMs: 60_000 },
    );
    expect(fuzzer.frames.filter((f) => f.type === "error").length).toBeGreaterThan(5_000);
    expect(fuzzer.closeInfo()).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${connector.adminPort}/healthz`)).status).toBe(200);
    await world.backend.toUser("fuzz-bystander", { data: "still here", id: "fuzz-ok" });
    await other.waitFor((f) => f.type === "message" && f.id === "fuzz-ok");
    await Promise.all([fuzzer.close(), other.close()]);
    await connector.stop();
  });
});

describe("JWKS", () => {
  let jwksServer: Server;
  let keys: JWK[] = [];
  let connector: Service;
  const signers: Record<string, { privateKey: CryptoKey; kid: string }> = {};

  beforeAll(async () => {
    for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const kid = `${alg}-1`;
      signers[alg] = { privateKey: privateKey as CryptoKey, kid };
      keys.push({ ...(await exportJWK(publicKey)), kid, alg });
    }
    jwksServer = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    connector = await startService("connector", {
      NATS_URL: world.nats.url,
      ...natsServiceEnv(world.nats, "connector"),
      HERALD_JWKS_URL: url,
      HERALD_JWT_AUDIENCE: "herald-e2e",
      HERALD_JWKS_COOLDOWN: "0s",
    });
    await connector.waitReady();
  });

  afterAll(async () => {
    await connector?.stop();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  const sign = (alg: string, sub: string, signer = signers[alg]!) =>
    new SignJWT({})
      .setProtectedHeader({ alg, kid: signer.kid })
      .setSubject(sub)
      .setAudience("herald-e2e")
      .setExpirationTime("5m")
      .sign(signer.privateKey);
  const url = (t: string) => `ws://127.0.0.1:${connector.port}/ws?token=${encodeURIComponent(t)}`;

  it.each(["RS256", "ES256", "EdDSA"])("accepts %s tokens from the key set", async (alg) => {
    const client = await connectClient(url(await sign(alg, `jwks-${alg}`)));
    expect(client.frames[0]).toMatchObject({ type: "welcome", userId: `jwks-${alg}` });
    await client.close();
  });

  it("follows a key rotation, and refuses keys that are not in the set", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const rotated = { privateKey: privateKey as CryptoKey, kid: "ES256-2" };
    const before = openClient(url(await sign("ES256", "rotated", rotated)));
    expect((await before.closed).httpStatus).toBe(401);
    keys = [{ ...(await exportJWK(publicKey)), kid: "ES256-2", alg: "ES256" }];
    const after = await connectClient(url(await sign("ES256", "rotated", rotated)));
    expect(after.frames[0]).toMatchObject({ type: "welcome", userId: "rotated" });
    await after.close();
    const hs = openClient(url(await signToken({ sub: "hs" }, "a-secret-the-connector-does-not-have")));
    expect((await hs.closed).httpStatus).toBe(401);
  });
});
