import {
  type NatsCluster,
  type NatsServer,
  type Service,
  type Stack,
  startNatsCluster,
  startStack,
  waitForJetStream,
  waitUntil,
} from "@herald/testkit";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type Backend, connectBackend } from "./support/backend.js";
import { type Fleet, startFleet } from "./support/fleet.js";
import { deliveredAtLeast, expectEverythingOnceInOrder } from "./support/fleet-checks.js";
import { holdsLease, logTimeline } from "./support/rehearsal.js";
import { publishPerUserInOrder } from "./support/rehearsal-recovery.js";
import { startBalancer } from "./support/tcp-balancer.js";

// Issue 14's failover goal: killing any one Herald process, or one NATS node of three, pauses no user's
// deliveries for more than 3 s (the killed connector's own clients excepted), loses nothing and keeps order.
// One install (3 NATS nodes, R3 streams, 2 replicas of every service) takes each kill in turn under a steady
// single-user load; each kill gets fresh users, and the victim is brought back before the next. The pauses
// are printed, not asserted (this machine is shared and noisy); loss and order are asserted.
// The router's failover is covered by crash.test.ts.

/** Clients on connector 1, which no kill here touches: the ones whose pause is measured for a connector kill. */
const PINNED = 30;
/** Clients through the balancer over both connectors (those on a killed connector reconnect to the other). */
const SPREAD = 30;
const PER_USER = 100;
/** Offered load, messages per second in all: 10 per user per second, so each kill lands mid-stream. */
const RATE = 600;
/**
 * The test backend's PubAck timeout: a publish in flight when its NATS node or the stream leader dies gets no
 * PubAck and is retried (same id) after this; the default 10 s would be the backend's own pause, not Herald's.
 * Its ping interval too: a backend on a node that hangs notices after 3 unanswered pings.
 */
const PUBLISH_TIMEOUT_MS = 1_000;

let cluster: NatsCluster | undefined;
let stack: Stack | undefined;
let backend: Backend | undefined;
let balancer: { port: number; close: () => Promise<void> } | undefined;
const open: Fleet[] = [];
const results: string[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  await waitForJetStream(cluster);
  stack = await startStack({
    nats: cluster,
    replicas: 2,
    counts: { persistence: 2, router: 2, presence: 2 },
    env: { HERALD_REPLICAS: "3" },
    readyTimeoutMs: 60_000,
    serviceOptions: { startTimeoutMs: 60_000 },
  });
  backend = await connectBackend(cluster, {
    identity: "operator",
    publishTimeoutMs: PUBLISH_TIMEOUT_MS,
    pingIntervalMs: PUBLISH_TIMEOUT_MS,
  });
  const s = stack;
  balancer = await startBalancer(() => s.connectors.map((c) => c.port));
}, 120_000);

afterAll(async () => {
  console.log(["longest pause of one user's deliveries after each kill:", ...results].join("\n"));
  await Promise.all(open.splice(0).map((f) => f.close()));
  await balancer?.close();
  await backend?.close();
  await Promise.all(stack?.all().map((service) => service.kill()) ?? []);
  await cluster?.dispose();
});

type Kill = {
  /** Kills the victim (SIGKILL) and says what it was. */
  kill: () => Promise<string>;
  /** Brings it back for the next kill. */
  recover: () => Promise<void>;
  /** Whether the balanced clients count (false when some of them were on the killed connector). */
  measureSpread: boolean;
};

/**
 * Under a steady single-user load to fresh users, kills one victim, waits for every message, prints the
 * longest pause one measured user's deliveries saw after the kill, and asserts nothing was lost or reordered.
 */
async function killUnderLoad(label: string, prefix: string, victim: Kill) {
  const s = stack!;
  const b = backend!;
  const pinnedUrl = `ws://127.0.0.1:${s.connectors[1]!.port}/ws`;
  const balancedUrl = `ws://127.0.0.1:${balancer!.port}/ws`;
  const start = (url: string, users: number, p: string) =>
    startFleet({ url: () => url, secret: s.jwtSecret, users, backend: b, prefix: p });
  const pinned = await start(pinnedUrl, PINNED, `${prefix}-p`);
  open.push(pinned);
  const spread = await start(balancedUrl, SPREAD, `${prefix}-s`);
  open.push(spread);
  const users = [...pinned.handled.keys(), ...spread.handled.keys()];
  // When each PubAck came: the longest gap after the kill is how long nothing could be stored.
  const acks: number[] = [];
  const noting: Backend = {
    ...b,
    toUser: async (...args) => {
      const ack = await b.toUser(...args);
      acks.push(Date.now());
      return ack;
    },
  };
  const publishing = publishPerUserInOrder(noting, users, PER_USER, {
    retryForMs: 60_000,
    ratePerSecond: RATE,
  });
  await deliveredAtLeast(pinned, (PINNED * PER_USER) / 4);
  const killedAt = Date.now();
  const what = await victim.kill();
  const { retries } = await publishing;
  await Promise.all([pinned, spread].map((f) => f.waitAllHandled(PER_USER, 120_000)));
  const measured = victim.measureSpread ? [pinned, spread] : [pinned];
  const pauses = measured.map((f) => f.longestPause(killedAt - 1_000));
  const worst = pauses.reduce((a, p) => (p.ms > a.ms ? p : a), { ms: 0, user: "" });
  const line =
    `  ${label} (${what}): ${worst.ms} ms (${worst.user}; ${measured.length === 1 ? "clients of the other connector" : "all clients"}); ` +
    `no PubAck for ${longestGap(acks, killedAt - 1_000)} ms, publish retries ${retries}, ${Date.now() - killedAt} ms until all handled` +
    `; NATS connection lost by [${disconnected(s, killedAt).join(", ")}]`;
  console.log(line);
  results.push(line);
  // Past the goal, what each service did after the kill says where the time went.
  if (worst.ms > 3_000) {
    for (const service of s.all()) {
      const lines = logTimeline(service, killedAt, 15);
      if (lines.length > 0) console.log(`  ${service.name} (pid ${service.pid}):\n${lines.join("\n")}`);
    }
  }
  expectEverythingOnceInOrder(pinned, PER_USER);
  expectEverythingOnceInOrder(spread, PER_USER);
  open.splice(open.indexOf(pinned), 2);
  await Promise.all([pinned, spread].map((f) => f.close()));
  await victim.recover();
}

/** The longest time between two consecutive `times` (sorted, ms since epoch) from `since` on. */
function longestGap(times: number[], since: number): number {
  const after = times.filter((t) => t >= since).sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < after.length; i++) longest = Math.max(longest, after[i]! - after[i - 1]!);
  return longest;
}

/** The services that logged losing their NATS connection since `since`, with when (ms after it). */
function disconnected(s: Stack, since: number): string[] {
  return s.all().flatMap((service) =>
    service
      .logRecords()
      .map((r) => ({ msg: r.msg, at: typeof r.time === "string" ? Date.parse(r.time) : Number.NaN }))
      .filter((r) => r.msg === "nats connection lost" && r.at >= since)
      .map((r) => `${service.name} +${r.at - since} ms`),
  );
}

/** Kills a service replica; `recover` starts it again on its ports and waits until it is ready. */
function serviceKill(pick: () => Service, why: string, measureSpread = true): Kill {
  let victim: Service | undefined;
  return {
    measureSpread,
    kill: async () => {
      victim = pick();
      await victim.kill();
      return why;
    },
    recover: async () => {
      await victim?.restart();
      await victim?.waitReady(60_000);
    },
  };
}

/** Which node (`herald-n<i>`) leads the mailbox stream. */
async function mailboxLeader(): Promise<string | undefined> {
  const b = backend!;
  return (await (await b.jsm()).streams.info(b.s.streams.mailbox)).cluster?.leader;
}

/**
 * Kills the NATS node `pick` chooses from the mailbox stream's leader (or, with `freeze`, stops it with SIGSTOP:
 * a node that hangs or drops off the network, whose connections get no FIN); `recover` restarts (or continues)
 * it until it is current again.
 */
function natsKill(
  pick: (leader: string | undefined) => { node: NatsServer; name: string },
  freeze = false,
): Kill {
  let victim: NatsServer | undefined;
  return {
    measureSpread: true,
    kill: async () => {
      const leader = await mailboxLeader();
      const { node, name } = pick(leader);
      victim = node;
      if (freeze) process.kill(node.pid()!, "SIGSTOP");
      else await node.kill();
      return `${name}; the mailbox leader was ${leader}`;
    },
    recover: async () => {
      if (freeze) process.kill(victim!.pid()!, "SIGCONT");
      else await victim?.restart();
      const b = backend!;
      await waitUntil(
        async () => {
          const info = await (await b.jsm()).streams.info(b.s.streams.mailbox);
          const replicas = info.cluster?.replicas ?? [];
          return (
            info.cluster?.leader !== undefined && replicas.length === 2 && replicas.every((r) => r.current)
          );
        },
        { timeoutMs: 60_000, intervalMs: 250, message: "the restarted NATS node current on the mailbox" },
      );
    },
  };
}

const nodeName = (i: number) => `herald-n${i + 1}`;
/** Nodes already struck: services left them, so striking one again would touch no connection. */
const struck = new Set<number>();
/** A node that does not lead the mailbox stream and was not struck before (services are connected to it). */
function notLeading(leader: string | undefined): number {
  const nodes = cluster!.nodes.map((_, j) => j).filter((j) => nodeName(j) !== leader);
  const i = nodes.find((j) => !struck.has(j)) ?? nodes[0]!;
  struck.add(i);
  return i;
}

describe("failover pauses: 3 NATS nodes (R3), 2 replicas of every service, steady single-user load", {
  timeout: 240_000,
}, () => {
  it("kill -9 of a persistence replica loses nothing and keeps order", async () => {
    await killUnderLoad(
      "persistence",
      "pers",
      serviceKill(() => stack!.persistence[0]!, "replica 1 of 2"),
    );
  });

  it("kill -9 of the presence lease holder loses nothing and keeps order", async () => {
    const s = stack!;
    await killUnderLoad(
      "presence",
      "pres",
      serviceKill(
        () =>
          s.presence.find((p) => holdsLease(p, "emitter lease acquired", "emitter lease lost")) ??
          s.presence[0]!,
        "the emitter lease holder",
      ),
    );
  });

  it("kill -9 of a connector pauses nobody else's deliveries; its clients resume on the other", async () => {
    await killUnderLoad(
      "connector",
      "conn",
      serviceKill(() => stack!.connectors[0]!, "connector 1 of 2", false),
    );
  });

  it("a NATS node that hangs (SIGSTOP), not the mailbox leader", async () => {
    const c = cluster!;
    await killUnderLoad(
      "NATS node frozen, not the mailbox leader",
      "natsz",
      natsKill((leader) => {
        const i = notLeading(leader);
        return { node: c.nodes[i]!, name: nodeName(i) };
      }, true),
    );
  });

  it("kill -9 of a NATS node that does not lead the mailbox stream", async () => {
    const c = cluster!;
    await killUnderLoad(
      "NATS node, not the mailbox leader",
      "natsf",
      natsKill((leader) => {
        const i = notLeading(leader);
        return { node: c.nodes[i]!, name: nodeName(i) };
      }),
    );
  });

  it("kill -9 of the NATS node leading the mailbox stream", async () => {
    const c = cluster!;
    await killUnderLoad(
      "NATS node leading the mailbox",
      "natsl",
      natsKill((leader) => {
        const i = Math.max(
          0,
          c.nodes.findIndex((_, j) => nodeName(j) === leader),
        );
        return { node: c.nodes[i]!, name: nodeName(i) };
      }),
    );
  });
});
