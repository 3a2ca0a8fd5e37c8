import { describe, expect, it } from "vitest";
import { TokenError } from "./errors.js";
import { connectUrl, fetchToken } from "./token.js";

describe("fetchToken", () => {
  it("returns a static token or the callback's (sync or async)", async () => {
    expect(await fetchToken("t")).toBe("t");
    expect(await fetchToken(() => "sync")).toBe("sync");
    expect(await fetchToken(async () => "async")).toBe("async");
  });

  it("wraps callback failures and empty tokens in TokenError", async () => {
    await expect(
      fetchToken(() => {
        throw new Error("idp down");
      }),
    ).rejects.toThrow(new TokenError("token callback failed", new Error("idp down")));
    await expect(fetchToken(async () => "")).rejects.toBeInstanceOf(TokenError);
  });
});

describe("connectUrl", () => {
  it("puts the token in the query, escaped, keeping other parameters", () => {
    expect(connectUrl("ws://h:1/ws?v=1", "a+b/c=", false)).toBe("ws://h:1/ws?v=1&token=a%2Bb%2Fc%3D");
  });

  it("leaves the URL alone when the token goes in the first frame", () => {
    expect(connectUrl("wss://h/ws", "secret", true)).toBe("wss://h/ws");
  });
});
