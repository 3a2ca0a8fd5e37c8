import { describe, expect, it } from "vitest";
import { DEFAULT_AUTH_CLOSE_CODES, DEFAULT_TERMINAL_CLOSE_CODES } from "./options.js";
import { type CloseFacts, decideAfterClose } from "./reconnect-policy.js";

const facts = (overrides: Partial<CloseFacts>): CloseFacts => ({
  code: 1006,
  socketError: undefined,
  terminalCloseCodes: DEFAULT_TERMINAL_CLOSE_CODES,
  authCloseCodes: DEFAULT_AUTH_CLOSE_CODES,
  tokenIsCallback: false,
  authFailures: 0,
  ...overrides,
});

describe("decideAfterClose", () => {
  it("reconnects after ordinary closes and failures", () => {
    for (const code of [1000, 1001, 1006, 1011, 1012, 4004, 4008, 4009]) {
      expect(decideAfterClose(facts({ code }))).toEqual({ reconnect: true, authRejected: false });
    }
  });

  it("never reconnects after a terminal code, whatever the token", () => {
    expect(decideAfterClose(facts({ code: 4010, tokenIsCallback: true }))).toEqual({
      reconnect: false,
      authRejected: false,
    });
    expect(decideAfterClose(facts({ code: 4500, terminalCloseCodes: [4500] })).reconnect).toBe(false);
  });

  it("stops on an auth rejection with a static token", () => {
    for (const code of [4001, 4003]) {
      expect(decideAfterClose(facts({ code }))).toEqual({ reconnect: false, authRejected: true });
    }
    const refused = facts({ socketError: "Unexpected server response: 401" });
    expect(decideAfterClose(refused)).toEqual({ reconnect: false, authRejected: true });
  });

  it("gives a token callback one retry per run of auth rejections", () => {
    expect(decideAfterClose(facts({ code: 4001, tokenIsCallback: true }))).toEqual({
      reconnect: true,
      authRejected: true,
    });
    expect(decideAfterClose(facts({ code: 4003, tokenIsCallback: true, authFailures: 1 })).reconnect).toBe(
      false,
    );
  });

  it("does not mistake other refused upgrades for auth rejections", () => {
    expect(decideAfterClose(facts({ socketError: "Unexpected server response: 503" })).reconnect).toBe(true);
  });
});
