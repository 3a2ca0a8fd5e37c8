import { decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { DemoRequestError, mintDevToken, parseTokenRequest } from "./tokens.js";

const secret = "a-dev-secret-of-at-least-32-bytes!!";

describe("dev tokens", () => {
  it("are connection tokens for the user and device, with the channels asked for, expiring soon", async () => {
    const before = Math.floor(Date.now() / 1000);
    const request = parseTokenRequest({ userId: "josé", deviceId: "tab-1", channels: ["lobby", "room:*"] });
    const { token, expiresAt } = await mintDevToken(request, secret, 300);
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ["HS256"] });
    expect(payload).toMatchObject({
      sub: "josé",
      did: "tab-1",
      channels: ["lobby", "room:*"],
      exp: expiresAt,
    });
    expect(expiresAt - before).toBeGreaterThanOrEqual(300);
    expect(expiresAt - before).toBeLessThanOrEqual(301);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" });
  });

  it("default to no channels", () => {
    expect(parseTokenRequest({ userId: "a", deviceId: "b" })).toEqual({
      userId: "a",
      deviceId: "b",
      channels: [],
    });
  });

  it.each([
    [undefined, "user id must be a string"],
    [{ deviceId: "d" }, "user id must be a string"],
    [{ userId: "a b", deviceId: "d" }, "user id must not contain"],
    [{ userId: "a", deviceId: "d.e" }, "device id must not contain"],
    [{ userId: "a", deviceId: "d", channels: "lobby" }, "channels must be a list"],
    [{ userId: "a", deviceId: "d", channels: ["a b"] }, "channels must be a list"],
    [{ userId: "a", deviceId: "d", channels: ["*"] }, "channels must be a list"],
  ])("refuse %j with a DemoRequestError", (body, message) => {
    expect(() => parseTokenRequest(body)).toThrow(DemoRequestError);
    expect(() => parseTokenRequest(body)).toThrow(message);
  });
});
