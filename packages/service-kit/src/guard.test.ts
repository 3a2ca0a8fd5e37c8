import { ErrorCode, HeraldError, MAX_JSON_DEPTH } from "@herald/protocol";
import { type NatsServer, startNatsServer } from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHandlerGuard, parseJsonRequest, subscribeGuarded } from "./guard.js";
import { serveJson } from "./json-api.js";
import { createLogger } from "./logger.js";

const MAX_PAYLOAD = 64 * 1024;
let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  // The guard's mechanics, not Herald's permissions: an open server, like the other service-kit tests.
  server = await startNatsServer({ extraConfig: `max_payload: ${MAX_PAYLOAD}`, auth: false });
  nc = await connect({ servers: server.url, noAsyncTraces: true });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

const newGuard = () => {
  const registry = new Registry();
  return { guard: createHandlerGuard(createLogger("guard-test", "silent"), registry), registry };
};
const errorsCounted = async (registry: Registry) =>
  (await registry.getSingleMetricAsString("herald_handler_errors_total"))
    .split("\n")
    .filter((line) => line.startsWith("herald_handler_errors_total{"))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);

describe("subscribeGuarded", () => {
  it("goes on with the next message after a handler throws or rejects, and counts each failure", async () => {
    const { guard, registry } = newGuard();
    const handled: string[] = [];
    const sub = subscribeGuarded(nc, "guard.sub", guard, "test", (msg) => {
      const text = msg.string();
      // A synchronous throw (like the RangeError of a stack overflow in issue 13) and a rejection.
      if (text === "throw") throw new RangeError("Maximum call stack size exceeded");
      if (text === "reject") return Promise.reject(new HeraldError(ErrorCode.InvalidRequest, "no"));
      handled.push(text);
      return undefined;
    });
    for (const text of ["a", "throw", "b", "reject", "c"]) nc.publish("guard.sub", text);
    await nc.flush();
    await expect.poll(() => handled).toEqual(["a", "b", "c"]);
    await expect.poll(() => errorsCounted(registry)).toBe(2);
    expect(sub.isClosed()).toBe(false);
    sub.unsubscribe();
  });
});

describe("serveJson", () => {
  it("answers every request: answers too big for max_payload, bad JSON, deep JSON and failures as errors", async () => {
    const { guard, registry } = newGuard();
    const sub = serveJson(nc, "guard.api", "q", guard, async (request) => {
      const { size, fail } = request as { size?: number; fail?: boolean };
      if (fail) throw new Error("boom");
      return { blob: "x".repeat(size ?? 1) };
    });
    const ask = async (body: string) =>
      (await nc.request("guard.api", body, { timeout: 5_000 })).json<{
        blob?: string;
        error?: { code: string };
      }>();
    expect((await ask('{"size":2}')).blob).toBe("xx");
    expect((await ask(`{"size":${MAX_PAYLOAD}}`)).error?.code).toBe(ErrorCode.ReplyTooLarge);
    expect((await ask("{nope")).error?.code).toBe(ErrorCode.InvalidJson);
    expect((await ask(`{"a":${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}}`)).error?.code).toBe(
      ErrorCode.TooDeep,
    );
    expect((await ask('{"fail":true}')).error?.code).toBe(ErrorCode.Internal);
    expect((await ask('{"size":3}')).blob).toBe("xxx");
    expect(await errorsCounted(registry)).toBe(4);
    sub.unsubscribe();
  });
});

describe("parseJsonRequest", () => {
  it("accepts nesting up to the limit, the body included", () => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    const depth = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    expect(parseJsonRequest(bytes(depth(MAX_JSON_DEPTH)))).toBeInstanceOf(Array);
    expect(() => parseJsonRequest(bytes(depth(MAX_JSON_DEPTH + 1)))).toThrow(/deeper/);
  });
});
