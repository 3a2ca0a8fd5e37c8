import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  isNatsSafePassword,
  NATS_IDENTITIES,
  NatsAuthConfigError,
  natsAccountsConfig,
  natsChartAccounts,
  natsPassword,
  natsPermissions,
  natsPermissionsTable,
  natsUser,
} from "./nats-auth.js";
import { subjects } from "./subjects.js";

const all = natsPermissions();
const s = subjects("herald");

/** True when `pattern` (a permission, maybe with wildcards) covers the literal `subject`. */
function covers(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const t = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return t.length > i;
    if (t[i] === undefined || (p[i] !== "*" && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}
const mayPublish = (identity: keyof typeof all, subject: string) =>
  all[identity].publish.some((pattern) => covers(pattern, subject));
const maySubscribe = (identity: keyof typeof all, subject: string) =>
  all[identity].subscribe.some((pattern) => covers(pattern, subject));

describe("natsPermissions", () => {
  it("keeps a publisher to the public subjects: none of the attacks of issue 13 item 4", () => {
    expect(mayPublish("publisher", s.sendUser("alice"))).toBe(true);
    expect(mayPublish("publisher", s.cursorGet)).toBe(true);
    expect(mayPublish("publisher", s.presenceGet)).toBe(true);
    expect(maySubscribe("publisher", s.receipt("alice"))).toBe(true);
    expect(maySubscribe("publisher", s.presenceEvent("alice"))).toBe(true);
    for (const internal of [
      s.mailbox("alice"),
      s.ack("c1"),
      s.replay,
      s.channelReplay,
      s.controlDisconnect,
      s.presenceReport("c1"),
      s.presenceEvent("alice"),
      s.presenceSync,
      s.cursorKeySubject("alice.phone"),
      s.channel("default", "news"),
      "$JS.API.STREAM.CREATE.HERALD_MBOX",
      "$JS.API.DIRECT.GET.HERALD_MBOX",
    ]) {
      expect(mayPublish("publisher", internal), internal).toBe(false);
    }
    for (const internal of [
      s.live("alice"),
      s.mailbox("alice"),
      s.replay,
      `${s.inboxPrefix("connector")}.x`,
    ]) {
      expect(maySubscribe("publisher", internal), internal).toBe(false);
    }
  });

  it("lets an operator disconnect, read and erase, never write messages or touch a service's consumer", () => {
    expect(mayPublish("operator", s.controlDisconnect)).toBe(true);
    expect(mayPublish("operator", "$JS.API.STREAM.INFO.HERALD_MBOX")).toBe(true);
    expect(mayPublish("operator", "$JS.API.CONSUMER.INFO.HERALD_INTAKE.router")).toBe(true);
    expect(mayPublish("operator", "$JS.API.STREAM.MSG.GET.HERALD_DEAD")).toBe(true);
    // `herald erase` and `herald tail`.
    expect(mayPublish("operator", "$JS.API.STREAM.PURGE.HERALD_MBOX")).toBe(true);
    expect(mayPublish("operator", "$KV.HERALD_cursors.alice.phone")).toBe(true);
    expect(mayPublish("operator", "$JS.API.CONSUMER.CREATE.HERALD_MBOX")).toBe(true);
    for (const publish of all.publisher.publish) expect(all.operator.publish).toContain(publish);
    expect(mayPublish("operator", s.mailbox("alice"))).toBe(false);
    expect(mayPublish("operator", s.ack("c1"))).toBe(false);
    expect(mayPublish("operator", "$JS.API.CONSUMER.MSG.NEXT.HERALD_INTAKE.router")).toBe(false);
    expect(mayPublish("operator", "$JS.API.CONSUMER.DELETE.HERALD_ACKS.persistence")).toBe(false);
    expect(mayPublish("operator", "$JS.API.STREAM.DELETE.HERALD_MBOX")).toBe(false);
    for (const write of all.operator.publish) {
      expect(write).not.toMatch(
        /STREAM\.(CREATE|UPDATE|DELETE)\.|^\$JS\.ACK|\.(INTAKE|ACKS)\b.*(NEXT|DELETE)/,
      );
      expect(write).not.toMatch(/\.(mbox|ack|live)\./);
    }
  });

  it("gives each service only its own consumers, buckets and inbox", () => {
    expect(mayPublish("router", "$JS.API.CONSUMER.MSG.NEXT.HERALD_INTAKE.router")).toBe(true);
    expect(mayPublish("router", "$JS.ACK.HERALD_INTAKE.router.1.2.3.4.5.6.7")).toBe(true);
    expect(mayPublish("router", "$JS.ACK.HERALD_ACKS.persistence.1.2.3.4.5.6.7")).toBe(false);
    expect(mayPublish("router", "$KV.HERALD_leases.router")).toBe(true);
    // One consumer and one lease per intake partition, and its own key among the live routers.
    for (const [subject, allowed] of [
      ["$JS.API.CONSUMER.MSG.NEXT.HERALD_INTAKE.router-p3", true],
      ["$JS.ACK.HERALD_INTAKE.router-p3.1.2.3.4.5.6.7", true],
      ["$JS.API.CONSUMER.MSG.NEXT.HERALD_ACKS.persistence", false],
      ["$KV.HERALD_leases.router.p3", true],
      ["$KV.HERALD_routers.host-1", true],
      ["$KV.HERALD_cursors.alice.phone", false],
    ] as const) {
      expect(mayPublish("router", subject), subject).toBe(allowed);
    }
    expect(mayPublish("router", "$KV.HERALD_presence.emitter")).toBe(false);
    expect(mayPublish("presence", "$KV.HERALD_leases.router")).toBe(false);
    // The router hosts the HTTP publish API: it publishes the send subjects, and only those of the public API.
    expect(mayPublish("router", s.sendUser("alice"))).toBe(true);
    expect(mayPublish("router", s.sendBroadcast)).toBe(true);
    expect(mayPublish("connector", s.sendUser("alice"))).toBe(false);
    expect(mayPublish("connector", s.mailbox("alice"))).toBe(false);
    expect(mayPublish("connector", s.ack("c1"))).toBe(true);
    expect(mayPublish("presence", s.controlDisconnect)).toBe(true);
    expect(mayPublish("persistence", "$KV.HERALD_cursors.alice.phone")).toBe(true);
    for (const identity of NATS_IDENTITIES) {
      const inboxes = all[identity].subscribe.filter((subject) => subject.startsWith("_INBOX"));
      expect(inboxes).toEqual([`_INBOX.herald.${identity}.>`]);
    }
    // Only persistence creates Herald's streams; router and presence may create only their lease buckets.
    const creators = NATS_IDENTITIES.filter((identity) =>
      all[identity].publish.some((subject) => subject.startsWith("$JS.API.STREAM.CREATE.HERALD_")),
    );
    expect(creators).toEqual(["persistence"]);
    // Only responders may answer requests (the reply subjects of what they receive).
    expect(NATS_IDENTITIES.filter((identity) => all[identity].allowResponses)).toEqual([
      "connector",
      "presence",
      "persistence",
    ]);
  });

  it("follows the prefix and the channel retention groups", () => {
    const acme = natsPermissions({ prefix: "acme.prod", channelRetention: "chat-*=10/1h;*=5/1h" });
    const flat = Object.values(acme).flatMap((p) => [...p.publish, ...p.subscribe]);
    expect(flat.filter((subject) => subject.includes("herald") || subject.includes("HERALD"))).toEqual([]);
    expect(acme.persistence.publish).toContain("$JS.API.STREAM.CREATE.ACME_PROD_CHAN_chat-");
    expect(acme.persistence.publish).toContain("$JS.API.STREAM.CREATE.ACME_PROD_CHAN_default");
    expect(acme.persistence.publish).toContain("$JS.API.STREAM.CREATE.ACME_PROD_CHAN_bcast");
    expect(acme.publisher.publish).toContain("acme.prod.send.>");
    expect(natsUser("router", "acme.prod")).toBe("acme.prod-router");
  });
});

describe("natsAccountsConfig", () => {
  it("is what k8s/nats/auth.conf ships, and docs/security.md's table says the same", () => {
    const shipped = readFileSync(new URL("../../../k8s/nats/auth.conf", import.meta.url), "utf8");
    expect(shipped).toBe(natsAccountsConfig());
    const doc = readFileSync(new URL("../../../docs/security.md", import.meta.url), "utf8");
    expect(doc).toContain(natsPermissionsTable());
  });

  it("names every user once, with its password from nats-server's env unless given", () => {
    const text = natsAccountsConfig();
    for (const identity of NATS_IDENTITIES) {
      expect(text).toContain(`user: "herald-${identity}"`);
      expect(text).toContain(`password: $HERALD_NATS_${identity.toUpperCase()}_PASSWORD`);
    }
    expect(natsAccountsConfig({ password: () => ({ value: "pw" }) })).toContain('password: "pw"');
    expect(() => natsAccountsConfig({ password: () => ({ value: 'a"b' }) })).toThrow(NatsAuthConfigError);
    expect(() => natsAccountsConfig({ password: () => ({ env: "NOT-A-VAR" }) })).toThrow(NatsAuthConfigError);
    expect(() => natsAccountsConfig({ account: "a b" })).toThrow(NatsAuthConfigError);
  });

  it("has the same users and permissions in the NATS chart's form", () => {
    const chart = natsChartAccounts() as { HERALD: { users: { user: string; password: string }[] } };
    expect(chart.HERALD.users.map((u) => u.user)).toEqual(NATS_IDENTITIES.map((i) => `herald-${i}`));
    expect(chart.HERALD.users[0]?.password).toBe("<< $HERALD_NATS_CONNECTOR_PASSWORD >>");
  });
});

describe("natsPassword", () => {
  it("gives letters and digits starting with a letter, which nats-server reads back from its env as a string", () => {
    const password = natsPassword(new Uint8Array(24).fill(0x0f));
    expect(password).toBe(`p${"0f".repeat(24)}`);
    expect(isNatsSafePassword(password)).toBe(true);
    for (const unsafe of ["4abcdefghijklmnopq", "-abcdefghijklmnopq", "abc+def/ghi=jklmnop", "short1"]) {
      expect(isNatsSafePassword(unsafe), unsafe).toBe(false);
    }
    expect(() => natsPassword(new Uint8Array(8))).toThrow(NatsAuthConfigError);
  });
});
