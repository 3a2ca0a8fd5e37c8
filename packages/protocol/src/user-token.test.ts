import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidUserIdError } from "./errors.js";
import { isValidUserId, userIdFromToken, userToken } from "./user-token.js";

const SUBJECT_TOKEN = /^[^.*>\s]+$/;

describe("userToken", () => {
  it("keeps plain ids as they are", () => {
    expect(userToken("alice")).toBe("alice");
    expect(userToken("A_b-9")).toBe("A_b-9");
  });

  it("encodes other ids with a marker", () => {
    expect(userToken("bob@example")).toBe("=Ym9iQGV4YW1wbGU");
    expect(userIdFromToken("=Ym9iQGV4YW1wbGU")).toBe("bob@example");
    expect(userToken("josé")).toBe("=am9zw6k");
  });

  it.each(["", "a.b", "a*", ">", "a b", "tab\t", "x".repeat(129), "\u0000"])("refuses %j", (id) => {
    expect(() => userToken(id)).toThrow(InvalidUserIdError);
    expect(isValidUserId(id)).toBe(false);
  });

  it("round-trips every legal id and yields a single safe subject token", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 128 }), (id) => {
        fc.pre(isValidUserId(id));
        const token = userToken(id);
        expect(token).toMatch(SUBJECT_TOKEN);
        expect(token).toMatch(/^[A-Za-z0-9_=-]+$/);
        expect(userIdFromToken(token)).toBe(id);
      }),
      { numRuns: 10_000 },
    );
  });

  it("never lets two ids share a token", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        (a, b) => {
          fc.pre(isValidUserId(a) && isValidUserId(b) && a !== b);
          expect(userToken(a)).not.toBe(userToken(b));
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("rejects every token it could not have produced", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (token) => {
        let decoded: string;
        try {
          decoded = userIdFromToken(token);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidUserIdError);
          return;
        }
        expect(userToken(decoded)).toBe(token);
      }),
      { numRuns: 10_000 },
    );
  });

  it("rejects non-canonical encodings", () => {
    expect(() => userIdFromToken("=YWxpY2U")).toThrow(/canonical/); // "alice" must be plain
    expect(() => userIdFromToken("=YQ==")).toThrow();
    expect(() => userIdFromToken("=YS5i")).toThrow(/illegal/); // "a.b"
    expect(() => userIdFromToken("a.b")).toThrow();
  });
});
