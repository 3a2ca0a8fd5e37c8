import { describe, expect, it } from "vitest";
import { mailboxEntrySchema, parsedJson, sendBodySchema, sendUsersBodySchema } from "./publish.js";

describe("parsedJson", () => {
  it("accepts whatever JSON.parse returns, falsy values included, and keeps it as it is", () => {
    for (const text of ['{"a":[1,{"b":null}],"c":"x"}', "[]", "0", "false", '""', "null", "-1.5e300"]) {
      const value: unknown = JSON.parse(text);
      const result = parsedJson.safeParse(value);
      expect(result.success).toBe(true);
      expect(result.data).toBe(value); // not copied
    }
  });

  it("rejects a missing value", () => {
    expect(parsedJson.safeParse(undefined).success).toBe(false);
  });
});

describe("body schemas", () => {
  it("require data, and accept any JSON data", () => {
    expect(sendBodySchema.safeParse(JSON.parse('{"data":{"deep":[[[1]]]},"id":"m-1"}')).success).toBe(true);
    expect(sendBodySchema.safeParse(JSON.parse('{"data":null}')).success).toBe(true);
    const missing = sendBodySchema.safeParse(JSON.parse('{"id":"m-1"}'));
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]?.path).toEqual(["data"]);
    expect(sendUsersBodySchema.safeParse(JSON.parse('{"userIds":["a"]}')).success).toBe(false);
    expect(mailboxEntrySchema.safeParse(JSON.parse('{"id":"m","ts":1}')).success).toBe(false);
  });

  it("still check the fields beside data", () => {
    expect(sendBodySchema.safeParse(JSON.parse('{"data":1,"id":"has space"}')).success).toBe(false);
    expect(mailboxEntrySchema.safeParse(JSON.parse('{"id":"m","data":1,"ts":"soon"}')).success).toBe(false);
  });
});
