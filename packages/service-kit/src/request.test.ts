import { ErrorCode, HeraldError } from "@herald/protocol";
import { type NatsServer, startNatsServer } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createHandlerGuard } from "./guard.js";
import { serveJson } from "./json-api.js";
import { createLogger } from "./logger.js";
import { ApiRefusedError, requestJson } from "./request.js";

let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer({ auth: false });
  nc = await connect({ servers: server.url, noAsyncTraces: true });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

const guard = () => createHandlerGuard(createLogger("request-test", "silent"), new Registry());
const sumSchema = z.object({ sum: z.number() });

describe("requestJson", () => {
  it("sends JSON and returns the reply checked against the schema", async () => {
    const sub = serveJson(nc, "req.sum", "q", guard(), async (request) => {
      const { a, b } = request as { a: number; b: number };
      return { sum: a + b, extra: "dropped by the schema" };
    });
    await expect(
      requestJson(nc, "req.sum", { a: 2, b: 3 }, sumSchema, { timeoutMs: 2_000 }),
    ).resolves.toEqual({
      sum: 5,
    });
    sub.unsubscribe();
  });

  it("rejects an error reply with the service's code and message", async () => {
    const sub = serveJson(nc, "req.refuse", "q", guard(), async () => {
      throw new HeraldError(ErrorCode.InvalidRequest, "limit must be positive");
    });
    const refused = requestJson(nc, "req.refuse", {}, sumSchema, { timeoutMs: 2_000 });
    await expect(refused).rejects.toBeInstanceOf(ApiRefusedError);
    await expect(refused).rejects.toMatchObject({
      code: ErrorCode.InvalidRequest,
      message: "req.refuse refused: invalid_request: limit must be positive",
    });
    sub.unsubscribe();
  });

  it("rejects a reply of the wrong shape, and no reply in time", async () => {
    const sub = serveJson(nc, "req.shape", "q", guard(), async () => ({ sum: "five" }));
    await expect(requestJson(nc, "req.shape", {}, sumSchema, { timeoutMs: 2_000 })).rejects.toBeInstanceOf(
      z.ZodError,
    );
    sub.unsubscribe();
    await expect(requestJson(nc, "req.nobody", {}, sumSchema, { timeoutMs: 200 })).rejects.toThrow();
  });

  it("with retryAfterMs, asks again when the first request got no reply (lost with a dying replica)", async () => {
    let asked = 0;
    // A raw subscriber that swallows the first request, as a replica does whose node died under it.
    const sub = nc.subscribe("req.lossy", {
      callback: (_err, msg) => {
        asked++;
        if (asked > 1) msg.respond(JSON.stringify({ sum: asked }));
      },
    });
    await expect(
      requestJson(nc, "req.lossy", {}, sumSchema, { timeoutMs: 200, retryAfterMs: 100 }),
    ).resolves.toEqual({ sum: 2 });
    asked = 0;
    // Without it the one request waits out the whole timeout.
    await expect(requestJson(nc, "req.lossy", {}, sumSchema, { timeoutMs: 200 })).rejects.toThrow();
    expect(asked).toBe(1);
    sub.unsubscribe();
  });

  it("does not ask again after an error reply", async () => {
    let asked = 0;
    const sub = serveJson(nc, "req.refuse", "q", guard(), async () => {
      asked++;
      throw new HeraldError(ErrorCode.InvalidRequest, "no");
    });
    await expect(
      requestJson(nc, "req.refuse", {}, sumSchema, { timeoutMs: 2_000, retryAfterMs: 100 }),
    ).rejects.toBeInstanceOf(ApiRefusedError);
    expect(asked).toBe(1);
    sub.unsubscribe();
  });
});
