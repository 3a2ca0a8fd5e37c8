import { ErrorCode, HeraldError } from "@herald/protocol";
import { useNats } from "@herald/testkit/vitest";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createHandlerGuard } from "./guard.js";
import { apiLoad, serveJson } from "./json-api.js";
import { createLogger } from "./logger.js";
import { ApiRefusedError, requestJson } from "./request.js";

const nats = useNats();

const guard = () => createHandlerGuard(createLogger("request-test", "silent"), new Registry());
const sumSchema = z.object({ sum: z.number() });

describe("requestJson", () => {
  it("sends JSON and returns the reply checked against the schema", async () => {
    const sub = serveJson(nats.nc, "req.sum", "q", guard(), async (request) => {
      const { a, b } = request as { a: number; b: number };
      return { sum: a + b, extra: "dropped by the schema" };
    });
    await expect(
      requestJson(nats.nc, "req.sum", { a: 2, b: 3 }, sumSchema, { timeoutMs: 2_000 }),
    ).resolves.toEqual({
      sum: 5,
    });
    sub.unsubscribe();
  });

  it("rejects an error reply with the service's code and message", async () => {
    const sub = serveJson(nats.nc, "req.refuse", "q", guard(), async () => {
      throw new HeraldError(ErrorCode.InvalidRequest, "limit must be positive");
    });
    const refused = requestJson(nats.nc, "req.refuse", {}, sumSchema, { timeoutMs: 2_000 });
    await expect(refused).rejects.toBeInstanceOf(ApiRefusedError);
    await expect(refused).rejects.toMatchObject({
      code: ErrorCode.InvalidRequest,
      message: "req.refuse refused: invalid_request: limit must be positive",
    });
    sub.unsubscribe();
  });

  it("rejects a reply of the wrong shape, and no reply in time", async () => {
    const sub = serveJson(nats.nc, "req.shape", "q", guard(), async () => ({ sum: "five" }));
    await expect(
      requestJson(nats.nc, "req.shape", {}, sumSchema, { timeoutMs: 2_000 }),
    ).rejects.toBeInstanceOf(z.ZodError);
    sub.unsubscribe();
    await expect(requestJson(nats.nc, "req.nobody", {}, sumSchema, { timeoutMs: 200 })).rejects.toThrow();
  });

  it("with retryAfterMs, asks again when the first request got no reply (lost with a dying replica)", async () => {
    let asked = 0;
    // A raw subscriber that swallows the first request, as a replica does whose node died under it.
    const sub = nats.nc.subscribe("req.lossy", {
      callback: (_err, msg) => {
        asked++;
        if (asked > 1) msg.respond(JSON.stringify({ sum: asked }));
      },
    });
    await expect(
      requestJson(nats.nc, "req.lossy", {}, sumSchema, { timeoutMs: 200, retryAfterMs: 100 }),
    ).resolves.toEqual({ sum: 2 });
    asked = 0;
    // Without it the one request waits out the whole timeout.
    await expect(requestJson(nats.nc, "req.lossy", {}, sumSchema, { timeoutMs: 200 })).rejects.toThrow();
    expect(asked).toBe(1);
    sub.unsubscribe();
  });

  it("does not ask again after an error reply", async () => {
    let asked = 0;
    const sub = serveJson(nats.nc, "req.refuse", "q", guard(), async () => {
      asked++;
      throw new HeraldError(ErrorCode.InvalidRequest, "no");
    });
    await expect(
      requestJson(nats.nc, "req.refuse", {}, sumSchema, { timeoutMs: 5_000, retryAfterMs: 1_000 }),
    ).rejects.toBeInstanceOf(ApiRefusedError);
    expect(asked).toBe(1);
    sub.unsubscribe();
  });
});

describe("serveJson with a load limit", () => {
  it("works on at most `concurrency` requests at once, across every API sharing the limit", async () => {
    let running = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const slow = async () => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running--;
      return { sum: 1 };
    };
    const load = apiLoad({ concurrency: 3, staleAfterMs: 60_000, onStale: () => {} });
    const subs = [
      serveJson(nats.nc, "req.load.a", "q", guard(), slow, load),
      serveJson(nats.nc, "req.load.b", "q", guard(), slow, load),
    ];
    const replies = Array.from({ length: 10 }, (_, i) =>
      requestJson(nats.nc, i % 2 ? "req.load.a" : "req.load.b", {}, sumSchema, { timeoutMs: 10_000 }),
    );
    // Release one at a time as they start: never more than three are in the handler.
    for (let released = 0; released < 10; ) {
      await expect.poll(() => gates.length, { timeout: 5_000 }).toBeGreaterThan(0);
      gates.shift()?.();
      released++;
    }
    await expect(Promise.all(replies)).resolves.toHaveLength(10);
    expect(most).toBe(3);
    for (const sub of subs) sub.unsubscribe();
  });

  it("drops unanswered a request that waited past `staleAfterMs`; its asker's retry is answered", async () => {
    let stale = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let handled = 0;
    const load = apiLoad({ concurrency: 1, staleAfterMs: 1_000, onStale: () => stale++ });
    const sub = serveJson(
      nats.nc,
      "req.stale",
      "q",
      guard(),
      async (request) => {
        handled++;
        if ((request as { hold?: boolean }).hold) await held;
        return { sum: handled };
      },
      load,
    );
    // One request holds the only slot; the next waits in the queue past staleAfterMs.
    const holder = requestJson(nats.nc, "req.stale", { hold: true }, sumSchema, { timeoutMs: 10_000 });
    const waiting = requestJson(nats.nc, "req.stale", {}, sumSchema, {
      timeoutMs: 10_000,
      retryAfterMs: 1_500,
    });
    await expect.poll(() => handled, { timeout: 5_000 }).toBe(1);
    setTimeout(release, 1_200);
    // The first send waited ~1.2 s (> 1 s) when the slot freed: dropped; the retry at 1.5 s finds it free.
    await expect(waiting).resolves.toEqual({ sum: 2 });
    await expect(holder).resolves.toEqual({ sum: 1 });
    expect(stale).toBe(1);
    expect(handled).toBe(2);
    sub.unsubscribe();
  });
});
