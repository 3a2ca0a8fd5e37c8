import {
  DEFAULT_CHANNEL_RETENTION,
  ErrorCode,
  HttpPublishRoute,
  MAX_JSON_DEPTH,
  PUBLISH_SCOPE,
  PUBLISH_TOKEN_TYPE,
  parseChannelRetention,
  subjects,
} from "@herald/protocol";
import { Counter, createLogger, KeyedRateLimit, type Nats, Registry } from "@herald/service-kit";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTest, createStreams, type NatsServer, readAll, startNatsServer } from "../test/support.js";
import { createPublishAuth } from "./auth.js";
import { sha256Hex } from "./config.js";
import { openApiPath } from "./openapi.js";
import { createHttpPublishApp } from "./routes.js";

const s = subjects("httptest");
const API_KEY = "k-0123456789abcdef";
const LIMITED_KEY = "k-limited";
const SECRET = "s".repeat(40);
const AUDIENCE = "herald-publish";
const MAX_BYTES = 4_096;

let server: NatsServer;
let nats: Nats;

beforeAll(async () => {
  server = await startNatsServer();
  nats = await connectTest(server.url);
  await createStreams(nats.jsm, s);
});
afterAll(async () => {
  await nats?.nc.close();
  await server?.stop();
});

function app(prefix = s, options: { burst?: number } = {}) {
  const registry = new Registry();
  return createHttpPublishApp({
    deps: {
      s: prefix,
      publisher: nats.publisher,
      connected: nats.connected,
      maxMessageBytes: MAX_BYTES,
      channelRetention: parseChannelRetention(DEFAULT_CHANNEL_RETENTION),
    },
    auth: createPublishAuth({
      apiKeyHashes: [sha256Hex(API_KEY), sha256Hex(LIMITED_KEY)],
      jwtSecret: SECRET,
      audience: AUDIENCE,
      issuer: undefined,
    }),
    limit: new KeyedRateLimit(1, options.burst ?? 1_000),
    logger: createLogger("http-publish-test", "silent"),
    requests: new Counter({
      name: "requests",
      help: "h",
      labelNames: ["route", "outcome"],
      registers: [registry],
    }),
  });
}

const post = (a: ReturnType<typeof app>, path: string, body: string, headers: Record<string, string> = {}) =>
  a.request(path, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json", ...headers },
  });

async function jwt(
  claims: Record<string, unknown>,
  options: { typ?: string; exp?: number | string; aud?: string } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: options.typ ?? PUBLISH_TOKEN_TYPE })
    .setSubject("backend-1")
    .setAudience(options.aud ?? AUDIENCE)
    .setExpirationTime(options.exp ?? "5m")
    .sign(new TextEncoder().encode(SECRET));
}

const intakeCount = async () => (await nats.jsm.streams.info(s.streams.intake)).state.messages;

describe("HTTP publish", () => {
  it("publishes to each send subject after the PubAck and answers the id clients see", async () => {
    const a = app();
    const user = await post(a, "/v1/publish/user/jos%C3%A9", JSON.stringify({ data: { hi: 1 }, id: "u-1" }));
    expect(user.status).toBe(202);
    expect(await user.json()).toEqual({ id: "u-1", duplicate: false });
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const users = await post(a, HttpPublishRoute.users, JSON.stringify({ userIds: ["a", "b"], data: 2 }), {
      "Nats-Msg-Id": "us-1",
      traceparent,
    });
    expect(await users.json()).toEqual({ id: "us-1", duplicate: false });
    const channel = await post(a, "/v1/publish/channel/news:eu", JSON.stringify({ data: 3 }));
    const channelReply = (await channel.json()) as { id: string };
    expect(channelReply).toEqual({ id: expect.any(String), duplicate: false });
    const channelId = channelReply.id;
    expect(channelId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await post(a, HttpPublishRoute.broadcast, JSON.stringify({ data: 4 }))).status).toBe(202);
    const keyed = await post(
      a,
      `${HttpPublishRoute.users}?key=tenant-1`,
      JSON.stringify({ userIds: ["a"], data: 5 }),
    );
    expect(keyed.status).toBe(202);
    const badKey = await post(
      a,
      `${HttpPublishRoute.users}?key=a.b`,
      JSON.stringify({ userIds: ["a"], data: 6 }),
    );
    expect(badKey.status).toBe(400);

    const stored = await readAll(nats.jsm, s.streams.intake, s.sendAll);
    expect(stored.map((m) => m.subject)).toEqual([
      s.sendUser("=am9zw6k"),
      s.sendUsers,
      s.sendChannel("news:eu"),
      s.sendBroadcast,
      s.sendUsersKeyed("tenant-1"),
    ]);
    // The body is stored as sent; the id is its Nats-Msg-Id.
    expect(stored[0]!.json()).toEqual({ data: { hi: 1 }, id: "u-1" });
    expect(stored.map((m) => m.header.get("traceparent"))).toEqual(["", traceparent, "", "", ""]);
    expect(stored.map((m) => m.header.get("Nats-Msg-Id"))).toEqual([
      "u-1",
      "us-1",
      channelId,
      expect.any(String),
      expect.any(String),
    ]);
  });

  it("stores the same id once: the second answer says duplicate", async () => {
    const a = app();
    const before = await intakeCount();
    const first = await post(a, "/v1/publish/user/dup", JSON.stringify({ data: 1 }), {
      "Nats-Msg-Id": "d-1",
    });
    const second = await post(a, "/v1/publish/user/dup", JSON.stringify({ data: 1 }), {
      "Nats-Msg-Id": "d-1",
    });
    expect(await first.json()).toEqual({ id: "d-1", duplicate: false });
    expect(await second.json()).toEqual({ id: "d-1", duplicate: true });
    expect(await intakeCount()).toBe(before + 1);
  });

  it("refuses each bad body with its dead-letter code, and publishes none of them", async () => {
    const a = app();
    const before = await intakeCount();
    const deep = `{"data":${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}}`;
    const cases: [string, string, string, Record<string, string>?][] = [
      ["/v1/publish/user/alice", "{nope", ErrorCode.InvalidJson],
      ["/v1/publish/user/alice", "[1]", ErrorCode.InvalidMessage],
      ["/v1/publish/user/alice", '{"id":"x"}', ErrorCode.MissingData],
      ["/v1/publish/user/alice", '{"data":1,"id":""}', ErrorCode.InvalidMessage],
      ["/v1/publish/user/alice", deep, ErrorCode.TooDeep],
      ["/v1/publish/user/a.b", '{"data":1}', ErrorCode.InvalidUserId],
      ["/v1/publish/user/a%20b", '{"data":1}', ErrorCode.InvalidUserId],
      ["/v1/publish/channel/a.b", '{"data":1}', ErrorCode.InvalidChannel],
      ["/v1/publish/channel/a%2A", '{"data":1}', ErrorCode.InvalidChannel],
      [HttpPublishRoute.users, '{"userIds":["ok","bad.id"],"data":1}', ErrorCode.InvalidUserId],
      [HttpPublishRoute.users, '{"userIds":[],"data":1}', ErrorCode.InvalidMessage],
      [HttpPublishRoute.broadcast, '{"data":1}', ErrorCode.InvalidMessage, { "Nats-Msg-Id": "has space" }],
    ];
    for (const [path, body, code, headers] of cases) {
      const res = await post(a, path, body, headers);
      expect({ path, body, status: res.status }).toEqual({ path, body, status: 400 });
      const reply = (await res.json()) as { error: { code: string; message: string } };
      expect({ path, body, code: reply.error.code }).toEqual({ path, body, code });
      expect(reply.error.message.length).toBeGreaterThan(0);
    }
    expect(await intakeCount()).toBe(before);
  });

  it("answers 413 for a body over the limit, without reading or publishing it", async () => {
    const before = await intakeCount();
    const res = await post(app(), "/v1/publish/user/alice", JSON.stringify({ data: "x".repeat(MAX_BYTES) }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.TooLarge);
    expect(await intakeCount()).toBe(before);
  });

  it("authenticates with an API key or a publish JWT, and refuses the rest", async () => {
    const a = app();
    const body = JSON.stringify({ data: 1 });
    const status = async (authorization?: string) => {
      const res = await a.request("/v1/publish/broadcast", {
        method: "POST",
        body,
        headers: authorization === undefined ? {} : { authorization },
      });
      return [res.status, ((await res.json()) as { error?: { code: string } }).error?.code ?? "ok"];
    };
    expect(await status()).toEqual([401, ErrorCode.Unauthorized]);
    expect(await status("Bearer wrong-key")).toEqual([401, ErrorCode.Unauthorized]);
    expect(await status(`Basic ${API_KEY}`)).toEqual([401, ErrorCode.Unauthorized]);
    expect(await status(`Bearer ${await jwt({ scope: `read ${PUBLISH_SCOPE}` })}`)).toEqual([202, "ok"]);
    expect(await status(`Bearer ${await jwt({ scope: PUBLISH_SCOPE }, { exp: 1 })}`)).toEqual([
      401,
      ErrorCode.TokenExpired,
    ]);
    expect(await status(`Bearer ${await jwt({ scope: "read" })}`)).toEqual([403, ErrorCode.Forbidden]);
    expect(await status(`Bearer ${await jwt({})}`)).toEqual([403, ErrorCode.Forbidden]);
    expect(await status(`Bearer ${await jwt({ scope: PUBLISH_SCOPE }, { typ: "JWT" })}`)).toEqual([
      401,
      ErrorCode.Unauthorized,
    ]);
    expect(await status(`Bearer ${await jwt({ scope: PUBLISH_SCOPE }, { aud: "other" })}`)).toEqual([
      401,
      ErrorCode.Unauthorized,
    ]);
    const unsigned = await jwt({ scope: PUBLISH_SCOPE });
    expect(await status(`Bearer ${unsigned.slice(0, -2)}xx`)).toEqual([401, ErrorCode.Unauthorized]);
    const res = await a.request("/v1/publish/broadcast", { method: "POST", body });
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("limits each key on its own: 429 with Retry-After once its burst is spent", async () => {
    const a = app(s, { burst: 2 });
    const body = JSON.stringify({ data: 1 });
    const limited = { authorization: `Bearer ${LIMITED_KEY}` };
    expect((await post(a, HttpPublishRoute.broadcast, body, limited)).status).toBe(202);
    expect((await post(a, HttpPublishRoute.broadcast, body, limited)).status).toBe(202);
    const before = await intakeCount();
    const refused = await post(a, HttpPublishRoute.broadcast, body, limited);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.RateLimited);
    expect(await intakeCount()).toBe(before);
    // Another key still has its own burst.
    expect((await post(a, HttpPublishRoute.broadcast, body)).status).toBe(202);
  });

  it("answers 503 when no stream captures the subject, and claims nothing accepted", async () => {
    const res = await post(app(subjects("nostreams")), "/v1/publish/user/alice", JSON.stringify({ data: 1 }));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.Unavailable);
  });

  it("serves an OpenAPI 3.1 document whose paths are exactly the publish routes", async () => {
    const a = app();
    const res = await a.request(HttpPublishRoute.openApi);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, { required?: string[] }> };
    };
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = a.routes
      .filter((route) => route.method !== "ALL" && route.path !== HttpPublishRoute.openApi)
      .map((route) => `${route.method} ${openApiPath(route.path)}`);
    expect(documented.sort()).toEqual([...new Set(served)].sort());
    expect(doc.components.schemas.SendUsersBody?.required).toEqual(["userIds", "data"]);
    expect(doc.components.schemas.SendBody?.required).toEqual(["data"]);
  });

  it("answers 404 with an error body for an unknown route", async () => {
    const res = await post(app(), "/v1/publish/other", "{}");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.InvalidRequest);
  });
});
