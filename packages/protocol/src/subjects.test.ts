import { describe, expect, it } from "vitest";
import { InvalidPrefixError } from "./errors.js";
import { intakePartitionCount, subjects } from "./subjects.js";

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

  it("names intake partitions and maps a stored subject back to the one published", () => {
    const s = subjects("acme.push");
    expect(s.intakeTransform(8)).toEqual({
      src: "acme.push.send.*.*",
      dest: "acme.push.route.{{partition(8,2)}}.{{wildcard(1)}}.{{wildcard(2)}}",
    });
    expect(s.routePartition(3)).toBe("acme.push.route.3.>");
    expect(s.consumers.routerPartition(3)).toBe("router-p3");
    expect(s.sentSubject("acme.push.route.3.channel.news")).toBe("acme.push.send.channel.news");
    expect(s.sentSubject("acme.push.route.0.users.tenant-1")).toBe("acme.push.send.users.tenant-1");
    // Subjects stored as published are their own.
    expect(s.sentSubject("acme.push.send.users")).toBe("acme.push.send.users");
    expect(s.sentSubject("acme.push.route.7")).toBe("acme.push.route.7");
    expect(s.intakeSubjects).toContain(s.sendUsersKeyed("*"));
  });

  it("reads the partition count back from a stream's transform", () => {
    const s = subjects();
    expect(intakePartitionCount(s.intakeTransform(1))).toBe(1);
    expect(intakePartitionCount(s.intakeTransform(16))).toBe(16);
    expect(intakePartitionCount(undefined)).toBe(0);
    expect(intakePartitionCount({ dest: "herald.mbox.{{wildcard(1)}}" })).toBe(0);
    expect(intakePartitionCount({})).toBe(0);
  });
});
