import { CONNECTION_TOKEN_TYPE, SUBSCRIPTION_TOKEN_TYPE } from "@herald/protocol";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AuthError, createVerifier } from "./auth.js";

const SECRET = "s".repeat(32);
const OTHER = "o".repeat(32);

function sign(
  claims: Record<string, unknown>,
  header: { typ?: string; kid?: string } = { typ: "JWT" },
  options: { exp?: string | number | null; key?: string } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256", ...header }).setSubject("alice");
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? "1h");
  return jwt.sign(new TextEncoder().encode(options.key ?? SECRET));
}

const refused = async (promise: Promise<unknown>, message: RegExp) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  expect((error as AuthError).message).toMatch(message);
};

describe("createVerifier", () => {
  const verify = createVerifier({ secret: SECRET, maxLifetimeMs: 2 * 3_600_000 });

  it("requires exp, and refuses an exp further away than the maximum lifetime", async () => {
    await expect(verify(await sign({}), "connection")).resolves.toMatchObject({ userId: "alice" });
    await refused(verify(await sign({}, undefined, { exp: null }), "connection"), /exp/);
    await refused(
      verify(await sign({}, undefined, { exp: "3h" }), "connection"),
      /longer than the allowed 7200 s/,
    );
  });

  it("tells connection tokens and subscription tokens apart by typ", async () => {
    const connection = await sign({}, { typ: CONNECTION_TOKEN_TYPE });
    const untyped = await sign({}, {});
    const subscription = await sign({ channel: "private-a" }, { typ: SUBSCRIPTION_TOKEN_TYPE });
    await expect(verify(connection, "connection")).resolves.toMatchObject({ channel: undefined });
    await expect(verify(untyped, "connection")).resolves.toMatchObject({ userId: "alice" });
    await expect(verify(subscription, "subscription")).resolves.toMatchObject({ channel: "private-a" });
    await refused(verify(subscription, "connection"), /a subscription token cannot be used as a connection/);
    await refused(verify(connection, "subscription"), /a connection token cannot be used as a subscription/);
    await refused(verify(await sign({ channel: "private-a" }), "connection"), /must not carry a channel/);
    await refused(
      verify(await sign({}, { typ: SUBSCRIPTION_TOKEN_TYPE }), "subscription"),
      /needs a channel/,
    );
    await refused(verify(await sign({}, { typ: "at+jwt" }), "connection"), /unknown typ/);
  });

  it("picks HS256 keys by kid; a token without kid uses the kid-less secret", async () => {
    const keyed = createVerifier({ secret: SECRET, secrets: new Map([["next", OTHER]]) });
    await expect(keyed(await sign({}, { kid: "next" }, { key: OTHER }), "connection")).resolves.toBeDefined();
    await expect(keyed(await sign({}, {}), "connection")).resolves.toBeDefined();
    await refused(keyed(await sign({}, { kid: "next" }), "connection"), /invalid token/);
    await refused(keyed(await sign({}, { kid: "gone" }, { key: OTHER }), "connection"), /unknown kid/);
    const kidOnly = createVerifier({ secrets: new Map([["next", OTHER]]) });
    await refused(kidOnly(await sign({}, {}, { key: OTHER }), "connection"), /kid header is required/);
  });
});
