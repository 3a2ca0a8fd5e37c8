import { execFile } from "node:child_process";
import { join } from "node:path";
import type { CursorReply } from "@herald/protocol";
import { connectClient, natsServiceEnv, repoRoot, signToken, waitUntil } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { useStack } from "./support/use-stack.js";

// The operator CLI against a real stack, run as `node packages/cli/dist/main.js` (the `herald` bin).

const world = useStack({ envFor: { router: { HERALD_MAX_MESSAGE_BYTES: "1024" } } });

type Result = { code: number; stdout: string; stderr: string };

function herald(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, "packages/cli/dist/main.js"), ...args],
      {
        // The CLI speaks as the operator identity it was made for (docs/security.md).
        env: {
          PATH: process.env.PATH ?? "",
          NATS_URL: world.nats.url,
          ...natsServiceEnv(world.nats, "operator"),
          ...env,
        },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function json<T>(result: Result): T {
  const last = result.stdout.trim().split("\n").at(-1) ?? "";
  if (!last.startsWith("{")) throw new Error(`no JSON from herald (exit ${result.code}): ${result.stderr}`);
  return JSON.parse(last) as T;
}
const connectAs = async (sub: string, autoAck = false) =>
  connectClient(world.stack.wsUrl(await signToken({ sub, did: "laptop" }, world.stack.jwtSecret)), {
    autoAck,
  });

describe("herald CLI", () => {
  it("prints help, and tells usage errors (2) and an unreachable NATS (3) apart", async () => {
    const help = await herald(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("publish user <userId> <data>");
    expect((await herald(["frobnicate"])).code).toBe(2);
    expect((await herald(["publish", "user", "a.b", "1"])).code).toBe(2);
    expect((await herald(["erase", "carol"])).code).toBe(2);
    const down = await herald(["health"], { NATS_URL: "nats://127.0.0.1:1" });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain("cannot connect to NATS");
  });

  it("publishes to a user, tails the mailbox, and shows presence, devices and health", async () => {
    const client = await connectAs("carol");
    const published = await herald(["publish", "user", "carol", '{"text":"hi"}', "--id", "cli-1", "--json"]);
    expect(published.code, published.stderr).toBe(0);
    expect(json<{ seq: number; duplicate: boolean }>(published)).toMatchObject({ duplicate: false });
    const [message] = await client.waitForMessages(1);
    expect(message).toMatchObject({ id: "cli-1", data: { text: "hi" } });
    expect((await herald(["publish", "user", "carol", "again", "--id", "cli-1"])).stdout).toContain(
      "duplicate",
    );

    const keyed = await herald(["publish", "users", "carol", "k", "--key", "tenant-1", "--json"]);
    expect(json<{ subject: string }>(keyed).subject).toBe(world.backend.s.sendUsersKeyed("tenant-1"));
    expect((await client.waitForMessages(2)).at(-1)).toMatchObject({ data: "k" });
    expect((await herald(["publish", "users", "carol", "k", "--key", "a.b"])).code).toBe(2);

    const tailed = await herald(["tail", "user", "carol", "--since", "0", "--count", "1", "--json"]);
    expect(tailed.code, tailed.stderr).toBe(0);
    expect(json(tailed)).toMatchObject({ id: "cli-1", data: { text: "hi" } });

    const online = json<{ online: boolean; connections: { deviceId: string }[] }>(
      await herald(["presence", "carol", "--json"]),
    );
    expect(online).toMatchObject({ online: true, connections: [{ deviceId: "laptop" }] });
    expect(json<{ users: number }>(await herald(["presence", "--json"])).users).toBeGreaterThanOrEqual(1);

    const cursors = json<CursorReply>(await herald(["devices", "carol", "--json"]));
    expect(cursors.devices).toEqual([{ deviceId: "laptop", ackedSeq: 0, pending: 2 }]);

    const health = await herald(["health", "--json"]);
    expect(health.code, health.stderr).toBe(0);
    const report = json<{ ok: boolean; consumers: { consumer: string; ok: boolean }[] }>(health);
    expect(report.ok).toBe(true);
    // The router's lanes: one per intake partition (8 by default) and the unpartitioned one.
    const lanes = Array.from({ length: 8 }, (_, k) => `router-p${k}`);
    expect(report.consumers.map((c) => c.consumer).sort()).toEqual(
      ["persistence", "router", ...lanes].sort(),
    );
    await client.close();
  });

  it("lists dead letters by reason and replays them once the cause is fixed", async () => {
    const big = { data: "x".repeat(2_000) };
    // Through the router (send.users): a single-user send over the limit is refused at publish instead.
    await world.backend.toUsers({ userIds: ["dave"], ...big });
    await waitUntil(async () => (await world.operator.deadLetters()).some((l) => l.reason === "too_large"), {
      timeoutMs: 10_000,
      message: "the too_large dead letter",
    });
    const listed = json<{ byReason: Record<string, number>; letters: { seq: number; subject: string }[] }>(
      await herald(["dead", "list", "--reason", "too_large", "--json"]),
    );
    expect(listed.byReason.too_large).toBe(1);
    expect(listed.letters).toEqual([expect.objectContaining({ subject: world.backend.s.sendUsers })]);

    // The fix: the router now takes larger messages.
    const [router] = world.stack.routers;
    router!.env.HERALD_MAX_MESSAGE_BYTES = "65536";
    await router!.restart();
    await router!.waitReady();
    const client = await connectAs("dave");
    const replayed = await herald(["dead", "replay", "--reason", "too_large", "--json"]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(json(replayed)).toMatchObject({ replayed: 1, failed: 0 });
    const [message] = await client.waitForMessages(1);
    expect(message?.data).toBe(big.data);
    expect((await world.operator.deadLetters()).filter((l) => l.reason === "too_large")).toHaveLength(0);
    await client.close();
  });

  it("erases a user: connections closed, mailbox purged, cursors deleted", async () => {
    const client = await connectAs("erin", true);
    await herald(["publish", "user", "erin", "1"]);
    await herald(["publish", "user", "erin", "2"]);
    await client.waitForMessages(2);
    expect(await world.operator.mailboxCount("erin")).toBe(2);

    const erased = await herald(["erase", "erin", "--yes", "--json"]);
    expect(erased.code, erased.stderr).toBe(0);
    expect(json(erased)).toMatchObject({ connectionsClosed: 1, messagesPurged: 2, cursorsDeleted: 1 });
    expect((await client.closed).code).toBe(4011);
    expect(await world.operator.mailboxCount("erin")).toBe(0);
    const cursors = await world.backend.request<CursorReply>(world.backend.s.cursorGet, { userId: "erin" });
    expect(cursors.devices).toEqual([]);
    await waitUntil(
      async () => !json<{ online: boolean }>(await herald(["presence", "erin", "--json"])).online,
      {
        timeoutMs: 10_000,
        message: "presence to forget erin",
      },
    );
  });
});
