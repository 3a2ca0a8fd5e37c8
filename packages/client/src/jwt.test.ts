import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { decodeJwtPayload, jwtExpiresAt } from "./jwt.js";

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const jwt = (payload: unknown) => `${encode({ alg: "HS256", typ: "JWT" })}.${encode(payload)}.c2ln`;

describe("jwtExpiresAt", () => {
  it("reads exp in milliseconds without verifying the signature", () => {
    expect(jwtExpiresAt(jwt({ sub: "alice", exp: 1_800_000_000 }))).toBe(1_800_000_000_000);
  });

  it("decodes base64url payloads with UTF-8 and url-safe characters", () => {
    // "ü?>" style content produces '-' and '_' in base64url and needs UTF-8 decoding.
    const payload = { sub: "jürgen>>??~~", exp: 1 };
    expect(decodeJwtPayload(jwt(payload))).toEqual(payload);
  });

  it("is undefined for non-JWTs and tokens without a numeric exp", () => {
    expect(jwtExpiresAt("opaque-token")).toBeUndefined();
    expect(jwtExpiresAt("a.b.c")).toBeUndefined();
    expect(jwtExpiresAt(jwt({ sub: "alice" }))).toBeUndefined();
    expect(jwtExpiresAt(jwt({ exp: "soon" }))).toBeUndefined();
    expect(jwtExpiresAt(jwt([1, 2]))).toBeUndefined();
  });
});
