import { createHash } from "node:crypto";
import { ErrorCode, PUBLISH_SCOPE, PUBLISH_TOKEN_TYPE } from "@herald/protocol";
import { connectClient, signToken, waitUntil } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { sumMetric } from "./support/metrics.js";
import { useStack } from "./support/use-stack.js";

// One API key per test, so each test has its own rate-limit bucket (HERALD_HTTP_PUBLISH_BURST per key).
const KEYS = {
  main: "e2e-main-key",
  bodies: "e2e-bodies-key",
  limited: "e2e-limited-key",
  fill: "e2e-fill-key",
};
const PUBLISH_SECRET = "p".repeat(48);
const BURST = 20;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const world = useStack({
  envFor: {
    router: {
      HERALD_HTTP_PUBLISH_PORT: "0",
      HERALD_HTTP_PUBLISH_API_KEY_HASHES: Object.values(KEYS).map(sha256).join(","),
      HERALD_HTTP_PUBLISH_JWT_SECRET: PUBLISH_SECRET,
      HERALD_HTTP_PUBLISH_RATE: "1",
      HERALD_HTTP_PUBLISH_BURST: String(BURST),
    },
    // A small mailbox store, so the last test can fill it.
    persistence: { HERALD_MAILBOX_MAX_BYTES: "512KiB" },
  },
});

type Reply = {
  status: number;
  body: { id?: string; duplicate?: boolean; error?: { code: string; message: string } };
};

async function publish(
  path: string,
  body: unknown,
  options: { key?: string; authorization?: string | null; msgId?: string } = {},
): Promise<Reply & { headers: Headers }> {
  const router = world.stack.routers[0]!;
  await waitUntil(() => router.httpPublishPort > 0, { timeoutMs: 10_000, message: "the HTTP publish port" });
  const authorization =
    options.authorization === undefined ? `Bearer ${options.key ?? KEYS.main}` : options.authorization;
  const res = await fetch(`http://127.0.0.1:${router.httpPublishPort}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(authorization === null ? {} : { authorization }),
      ...(options.msgId ? { "Nats-Msg-Id": options.msgId } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: (await res.json()) as Reply["body"], headers: res.headers };
}

const publishJwt = (scope: string | undefined, exp: string | number = "5m") =>
  signToken(
    {
      sub: "billing",
      exp,
      typ: PUBLISH_TOKEN_TYPE,
      extra: { aud: "herald-publish", ...(scope ? { scope } : {}) },
    },
    PUBLISH_SECRET,
  );
const connectAs = async (sub: string) =>
  connectClient(world.stack.wsUrl(await signToken({ sub }, world.stack.jwtSecret)), { autoAck: true });

describe("HTTP publish API (router)", () => {
  it("answers the id after the PubAck; the client gets it once, the same id again is a duplicate", async () => {
    const client = await connectAs("http-alice");
    const first = await publish("/v1/publish/user/http-alice", { data: { n: 1 } }, { msgId: "http-1" });
    expect(first).toMatchObject({ status: 202, body: { id: "http-1", duplicate: false } });
    const again = await publish("/v1/publish/user/http-alice", { data: { n: 1 } }, { msgId: "http-1" });
    expect(again).toMatchObject({ status: 202, body: { id: "http-1", duplicate: true } });
    // Through the router: send.users with a body id and no header.
    const users = await publish("/v1/publish/users", {
      userIds: ["http-alice", "http-bob"],
      data: 2,
      id: "http-2",
    });
    expect(users).toMatchObject({ status: 202, body: { id: "http-2", duplicate: false } });
    // Without any id the answer names the one the client will see.
    const generated = await publish("/v1/publish/user/http-alice", { data: 3 });
    expect(generated.status).toBe(202);
    const messages = await client.waitForMessages(3, 15_000);
    expect(messages.map((m) => [m.id, m.data])).toEqual([
      ["http-1", { n: 1 }],
      ["http-2", 2],
      [generated.body.id, 3],
    ]);
    expect(await world.operator.mailboxCount("http-bob")).toBe(1);
    await client.close();
  });

  it("authenticates: no credential, a bad key, an expired JWT or the wrong scope publish nothing", async () => {
    const path = "/v1/publish/user/http-auth";
    const cases: [string | null, number, string][] = [
      [null, 401, ErrorCode.Unauthorized],
      ["Bearer not-a-configured-key", 401, ErrorCode.Unauthorized],
      [`Bearer ${await publishJwt(PUBLISH_SCOPE, "-10s")}`, 401, ErrorCode.TokenExpired],
      [`Bearer ${await publishJwt("read:presence")}`, 403, ErrorCode.Forbidden],
    ];
    for (const [authorization, status, code] of cases) {
      const reply = await publish(path, { data: 1 }, { authorization });
      expect({ authorization, status: reply.status, code: reply.body.error?.code }).toEqual({
        authorization,
        status,
        code,
      });
    }
    expect(await world.operator.mailboxCount("http-auth")).toBe(0);
    const ok = await publish(
      path,
      { data: 1 },
      { authorization: `Bearer ${await publishJwt(PUBLISH_SCOPE)}` },
    );
    expect(ok.status).toBe(202);
    await waitUntil(async () => (await world.operator.mailboxCount("http-auth")) === 1, {
      timeoutMs: 10_000,
    });
  });

  it("refuses each bad body with a clear code, and publishes nothing (no mailbox entry, no dead letter)", async () => {
    const deadBefore = (await world.operator.deadLetters()).length;
    const cases: [string, unknown, number, string][] = [
      ["/v1/publish/user/http-victim", "{not json", 400, ErrorCode.InvalidJson],
      ["/v1/publish/user/http-victim", "[1,2]", 400, ErrorCode.InvalidMessage],
      ["/v1/publish/user/http-victim", { id: "no-data" }, 400, ErrorCode.MissingData],
      ["/v1/publish/user/http-victim", { data: 1, id: 7 }, 400, ErrorCode.InvalidMessage],
      ["/v1/publish/user/http-victim", `{"data":${"[".repeat(80)}${"]".repeat(80)}}`, 400, ErrorCode.TooDeep],
      ["/v1/publish/user/bad.user", { data: 1 }, 400, ErrorCode.InvalidUserId],
      ["/v1/publish/users", { userIds: ["http-victim", "x y"], data: 1 }, 400, ErrorCode.InvalidUserId],
      ["/v1/publish/channel/no.dots", { data: 1 }, 400, ErrorCode.InvalidChannel],
      ["/v1/publish/user/http-victim", { data: "x".repeat(70_000) }, 413, ErrorCode.TooLarge],
    ];
    for (const [path, body, status, code] of cases) {
      const reply = await publish(path, body, { key: KEYS.bodies });
      expect({ path, status: reply.status, code: reply.body.error?.code }).toEqual({ path, status, code });
      expect(reply.body.error?.message.length).toBeGreaterThan(0);
    }
    // A good publish after them is the only thing the user ever gets.
    const client = await connectAs("http-victim");
    const good = await publish("/v1/publish/user/http-victim", { data: "ok" }, { key: KEYS.bodies });
    const [message] = await client.waitForMessages(1);
    expect(message).toMatchObject({ id: good.body.id, data: "ok" });
    expect(client.messages()).toHaveLength(1);
    expect(await world.operator.mailboxCount("http-victim")).toBe(1);
    expect((await world.operator.deadLetters()).length).toBe(deadBefore);
    await client.close();
  });

  it("limits each key: 429 with Retry-After once its burst is spent, nothing of it published", async () => {
    const router = world.stack.routers[0]!;
    const counted = (outcome: string) =>
      sumMetric(router, "herald_router_http_publish_requests_total", `outcome="${outcome}"`);
    const [acceptedBefore, limitedBefore] = [await counted("accepted"), await counted(ErrorCode.RateLimited)];
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < BURST + 5; i++) {
      const reply = await publish("/v1/publish/user/http-limited", { data: i }, { key: KEYS.limited });
      statuses.push(reply.status);
      if (reply.status === 429) {
        expect(reply.body.error?.code).toBe(ErrorCode.RateLimited);
        retryAfter = reply.headers.get("retry-after");
      }
    }
    const accepted = statuses.filter((status) => status === 202).length;
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(accepted + statuses.filter((status) => status === 429).length).toBe(BURST + 5);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    await waitUntil(async () => (await world.operator.mailboxCount("http-limited")) === accepted, {
      timeoutMs: 10_000,
      message: "exactly the accepted publishes stored",
    });
    expect((await counted("accepted")) - acceptedBefore).toBe(accepted);
    expect((await counted(ErrorCode.RateLimited)) - limitedBefore).toBe(BURST + 5 - accepted);
  });

  it("serves its OpenAPI document", async () => {
    const router = world.stack.routers[0]!;
    const doc = (await (await fetch(`http://127.0.0.1:${router.httpPublishPort}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/v1/publish/user/{userId}");
  });

  // Last: it fills the mailbox store.
  it("answers 503 when JetStream refuses (a full store), and claims nothing it did not store", async () => {
    const blob = "z".repeat(60_000);
    const accepted: string[] = [];
    let refused: Reply | undefined;
    for (let i = 0; i < BURST && !refused; i++) {
      const reply = await publish(
        "/v1/publish/user/http-hoarder",
        { data: blob, id: `fill-${i}` },
        { key: KEYS.fill },
      );
      if (reply.status === 202) accepted.push(reply.body.id!);
      else refused = reply;
    }
    expect(refused?.status).toBe(503);
    expect(refused?.body.error?.code).toBe(ErrorCode.Unavailable);
    expect(refused?.body.error?.message).toMatch(/maximum bytes exceeded/i);
    expect(accepted.length).toBeGreaterThan(0);
    // Every id answered 202 is stored, and the refused one is not.
    expect(await world.operator.mailboxCount("http-hoarder")).toBe(accepted.length);
  });
});
