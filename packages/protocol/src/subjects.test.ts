import { describe, expect, it } from "vitest";
import { InvalidPrefixError } from "./errors.js";
import { subjects } from "./subjects.js";

describe("subjects", () => {
  it("derives every name from the prefix", () => {
    const s = subjects("acme.push");
    expect(s.sendUser("alice")).toBe("acme.push.send.user.alice");
    expect(s.streams.mailbox).toBe("ACME_PUSH_MBOX");
    expect(s.buckets.cursors).toBe("ACME_PUSH_cursors");
  });

  it.each(["", "a..b", "a.*", "a.>", "a b", ".a"])("refuses prefix %j", (prefix) => {
    expect(() => subjects(prefix)).toThrow(InvalidPrefixError);
  });
});
