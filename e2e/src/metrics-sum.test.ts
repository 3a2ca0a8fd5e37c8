import type { CursorReply } from "@herald/protocol";
import { connectClient, signToken, type TestClient, waitUntil } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { sumMetric } from "./support/metrics.js";
import { useStack } from "./support/use-stack.js";

// The counters of the four services describe one run consistently: what the mailbox accepted (its stored
// messages, less the entries found invalid when read) is either delivered or pending, every ack has its
// receipt, and dead letters are counted by the reason they were sent for: by the router for what it routes,
// by persistence for single-user bodies found invalid when read.

const world = useStack();

const ONLINE = ["m-on1", "m-on2", "m-on3"];
const OFFLINE = ["m-off1", "m-off2"];

const connect = async (user: string, autoAck: boolean) =>
  connectClient(world.stack.wsUrl(await signToken({ sub: user, did: "d" }, world.stack.jwtSecret)), {
    autoAck,
  });

describe("metrics that add up", () => {
  it("accepted = delivered + pending, acks = receipts, dead letters by reason", async () => {
    const { backend, operator, stack } = world;
    // Offline users connect once so their device is known (cursor.get lists devices that ever connected).
    for (const user of OFFLINE) await (await connect(user, false)).close();
    const clients: TestClient[] = [];
    for (const user of ONLINE) clients.push(await connect(user, true));
    let receipts = 0;
    const sub = backend.nc.subscribe(backend.s.receipt("*"), {
      callback: () => {
        receipts++;
      },
    });

    const sent = { user: 0, users: 0, stored: 0, storedOnline: 0 };
    for (const [i, user] of [...ONLINE, ...OFFLINE].entries()) {
      for (let n = 0; n < 3 + i; n++) await backend.toUser(user, { data: { n } });
      sent.user += 3 + i;
      sent.stored += 3 + i;
      if (ONLINE.includes(user)) sent.storedOnline += 3 + i;
    }
    await backend.toUsers({ userIds: [ONLINE[0], OFFLINE[0]], data: "both" });
    sent.users += 1;
    sent.stored += 2;
    sent.storedOnline += 1;
    // Invalid single-user bodies to an online user: read live, replayed, dead-lettered by persistence.
    const readDead = { invalid_json: 2, missing_data: 1 };
    const routedDead = { invalid_user_id: 1 };
    const victim = ONLINE[0] ?? "";
    await backend.publish(backend.s.sendUser(victim), "{oops");
    await backend.publish(backend.s.sendUser(victim), "[1,");
    await backend.publish(backend.s.sendUser(victim), { nodata: true });
    await backend.publish(`${backend.s.prefix}.send.user.a.b`, { data: 1 });
    // Read past them, so every invalid entry has been seen.
    await backend.toUser(victim, { data: "after" });
    sent.user += 1;
    sent.stored += 1;
    sent.storedOnline += 1;

    const [router] = stack.routers;
    const [connector] = stack.connectors;
    const [persistence] = stack.persistence;
    await waitUntil(
      async () =>
        receipts === sent.storedOnline &&
        (await sumMetric(persistence!, "herald_persistence_receipts_total")) === sent.storedOnline &&
        // Cursor writes follow the receipts (write-behind, `PERSISTENCE_CURSOR_DELAY`).
        (await sumMetric(persistence!, "herald_persistence_acks_applied_total")) === sent.storedOnline &&
        (await sumMetric(router!, "herald_router_dead_letters_total")) === 1 &&
        (await sumMetric(persistence!, "herald_persistence_dead_letters_total")) === 3,
      {
        timeoutMs: 20_000,
        message: () => `all receipts (${receipts}/${sent.storedOnline}), cursor writes and dead letters`,
      },
    );
    // Presence counts the connections the connector holds.
    const [presence] = stack.presence;
    await waitUntil(
      async () =>
        (await sumMetric(presence!, "herald_presence_connections")) === ONLINE.length &&
        (await sumMetric(connector!, "herald_connector_connections")) === ONLINE.length,
      { timeoutMs: 10_000, message: "presence and connector to agree on the connections" },
    );
    sub.unsubscribe();
    await Promise.all(clients.map((c) => c.close()));

    let pending = 0;
    for (const userId of [...ONLINE, ...OFFLINE]) {
      const reply = await backend.request<CursorReply>(backend.s.cursorGet, { userId });
      pending += reply.devices.reduce((sum, d) => sum + d.pending, 0);
    }
    const stored = (await (await operator.jsm()).streams.info(backend.s.streams.mailbox)).state.messages;
    const accepted = stored - (await sumMetric(persistence!, "herald_persistence_dead_letters_total"));
    const delivered = await sumMetric(connector!, "herald_connector_messages_sent_total", 'kind="first"');
    expect(accepted).toBe(sent.stored);
    // The router writes `send.users` only (single-user sends never pass through it).
    expect(await sumMetric(router!, "herald_router_routed_messages_total")).toBe(sent.users);
    // One router replica here: it routes every lane of the intake.
    expect(await sumMetric(router!, "herald_router_lanes_routed")).toBe(
      await sumMetric(router!, "herald_router_lanes"),
    );
    expect(await sumMetric(router!, "herald_router_lanes")).toBe(8 + 1);
    expect(accepted).toBe(delivered + pending);
    expect(pending).toBe(sent.stored - sent.storedOnline);

    const acks = await sumMetric(connector!, "herald_connector_acks_total");
    expect(acks).toBe(sent.storedOnline);
    expect(await sumMetric(persistence!, "herald_persistence_acks_applied_total")).toBe(acks);
    expect(await sumMetric(persistence!, "herald_persistence_receipts_total")).toBe(acks);
    expect(receipts).toBe(acks);

    const letters = await operator.deadLetters();
    for (const [reason, count] of Object.entries(routedDead)) {
      const metric = await sumMetric(router!, "herald_router_dead_letters_total", `reason="${reason}"`);
      expect(metric, reason).toBe(count);
      expect(letters.filter((l) => l.reason === reason)).toHaveLength(count);
    }
    for (const [reason, count] of Object.entries(readDead)) {
      const metric = await sumMetric(
        persistence!,
        "herald_persistence_dead_letters_total",
        `reason="${reason}"`,
      );
      expect(metric, reason).toBe(count);
      expect(letters.filter((l) => l.reason === reason)).toHaveLength(count);
    }
  }, 60_000);
});
