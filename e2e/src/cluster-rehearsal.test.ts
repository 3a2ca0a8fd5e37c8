import { randomBytes } from "node:crypto";
import {
  type NatsAuth,
  type NatsCluster,
  type Service,
  startNatsCluster,
  startService,
  waitForJetStream,
  waitUntil,
} from "@herald/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { type Component, components, render } from "./chart/helm.js";
import { type Backend, connectBackend } from "./support/backend.js";
import { type Fleet, startFleet } from "./support/fleet.js";
import { scrapeMetric } from "./support/metrics.js";
import {
  holdsLease,
  isReady,
  logTimeline,
  type PodPlan,
  podPlan,
  processEnv,
  restartLikeKubelet,
} from "./support/rehearsal.js";
import { orderProblems, publishPerUserInOrder, recordRecovery } from "./support/rehearsal-recovery.js";
import { startBalancer } from "./support/tcp-balancer.js";

// The issue-5 rehearsal of a production install: the chart's default values (3 stream replicas, 2 replicas of
// every service) plus per-service NATS identities (issue 13) against a 3-node JetStream cluster, each service started with the env its rendered Deployment
// gives it. Under load, one NATS node and one replica of each service are killed with SIGKILL.

const USERS = 100;
const PER_USER = 200; // 20,000 messages
const TOTAL = USERS * PER_USER;
/** Offered load, messages per second: publishing lasts ~13 s and goes on through the kills. */
const RATE = 1_500;
/** Test values for the Secrets the chart references (it creates none by default). */
const JWT_SECRET = randomBytes(32).toString("hex");
const SECRETS: Record<string, string> = { "herald-jwt/jwt-secret": JWT_SECRET };

/**
 * NATS auth as production runs it (and as charts/herald/examples/with-nats sets it): each service its own
 * identity, from its own Secret, whose values are the cluster's passwords.
 */
function natsAuthValues(auth: NatsAuth | undefined): {
  set: Record<string, string>;
  secrets: Record<string, string>;
} {
  if (!auth) throw new Error("the rehearsal's NATS cluster runs with Herald's identities");
  const set: Record<string, string> = { "natsConnection.auth.type": "userPassword" };
  const secrets: Record<string, string> = {};
  for (const component of [...components, "test" as const]) {
    const identity = component === "test" ? "publisher" : component;
    set[`natsConnection.auth.secrets.${component}`] = `herald-nats-${identity}`;
    secrets[`herald-nats-${identity}/user`] = auth.users[identity].user;
    secrets[`herald-nats-${identity}/password`] = auth.users[identity].password;
  }
  return { set, secrets };
}

let cluster: NatsCluster | undefined;
const services: Service[] = [];
let backend: Backend | undefined;
let fleet: Fleet | undefined;
let balancer: { port: number; close: () => Promise<void> } | undefined;

afterAll(async () => {
  await fleet?.close();
  await balancer?.close();
  await backend?.close();
  // SIGTERM drains are covered elsewhere; here they would only add SHUTDOWN_DELAY (5 s) per process.
  await Promise.all(services.map((service) => service.kill()));
  await cluster?.dispose();
});

/** Env whose values stay out of the printed plan, even a test's throwaway ones. */
const SECRET_ENV = /SECRET|PASSWORD|TOKEN|_KEY$/;

function printPlans(plans: PodPlan[]) {
  const lines = ["cluster rehearsal: services run with the chart's rendered env; local overrides:"];
  for (const plan of plans) {
    const env = Object.entries(plan.chartEnv).map(([key, value]) =>
      SECRET_ENV.test(key) ? `${key}=<secret>` : `${key}=${value}`,
    );
    lines.push(`  ${plan.component} x${plan.replicas}: ${env.join(" ")}`);
    for (const [key, { value, why }] of Object.entries(plan.overrides)) {
      lines.push(`    override ${key}=${value}  (${why})`);
    }
  }
  console.log(lines.join("\n"));
}

let installed: { cluster: NatsCluster; group: (name: Component) => Service[]; startedAt: number } | undefined;

describe("cluster rehearsal (3 NATS nodes, R3, two replicas of each service from the chart)", () => {
  it("installs: every pod of the chart's defaults gets ready at once, none restarts", {
    timeout: 90_000,
  }, async () => {
    const startedAt = Date.now();
    cluster = await startNatsCluster(3);
    const c = cluster;
    await waitForJetStream(c);

    // The chart renders the NATS URL list itself (natsConnection.urls), so NATS_URL is not overridden.
    const natsAuth = natsAuthValues(c.auth);
    const objects = await render({
      set: { "natsConnection.urls": `{${c.nodes.map((node) => node.url).join(",")}}`, ...natsAuth.set },
    });
    const plans = components.map((component) =>
      podPlan(objects, component, { ...SECRETS, ...natsAuth.secrets }),
    );
    printPlans(plans);
    for (const plan of plans) {
      expect(plan.chartEnv.NATS_URL, plan.component).toBe(c.url);
      expect(plan.chartEnv.HERALD_REPLICAS, plan.component).toBe("3");
      expect(plan.replicas, plan.component).toBe(2);
      expect(plan.readinessPath, plan.component).toBe("/readyz");
    }

    // As after `helm install`: every pod starts at once, a pod that exits is restarted (so one crash does not
    // hide what the kill test below shows), and readiness says when each can serve.
    const byComponent = new Map<Component, Service[]>();
    const kubelets: ReturnType<typeof restartLikeKubelet>[] = [];
    const starting = Promise.all(
      plans.map(async (plan) => {
        const group = await Promise.all(
          Array.from({ length: plan.replicas }, async () => {
            const service = await startService(plan.component, processEnv(plan), { startTimeoutMs: 45_000 });
            services.push(service);
            kubelets.push(restartLikeKubelet(service));
            return service;
          }),
        );
        byComponent.set(plan.component, group);
      }),
    );
    try {
      await starting;
      await waitUntil(async () => (await Promise.all(services.map((s) => isReady(s)))).every(Boolean), {
        timeoutMs: 45_000,
        message: "every pod ready",
      });
    } catch (error) {
      // Which service held the others up is in their logs.
      for (const s of services) console.log(`--- ${s.name} ${s.pid}\n${s.logs().slice(-15).join("\n")}`);
      throw error;
    } finally {
      for (const kubelet of kubelets) kubelet.stop();
    }
    installed = { cluster: c, group: (name) => byComponent.get(name) ?? [], startedAt };
    const exits = kubelets.flatMap((kubelet) => kubelet.exits);
    console.log(
      `cluster rehearsal: all pods ready ${Date.now() - startedAt} ms after start; ${exits.length} restarts`,
    );
    // Seen here: both persistence replicas create the same R3 stream at once, nats-server may answer only one
    // of the two creates, the other times out and that replica exits (on Kubernetes: CrashLoopBackOff).
    expect(exits, "pods that exited during the install").toEqual([]);
    // Each pod ran as its own NATS identity and needed nothing its permissions refuse.
    for (const service of services) {
      const refused = service.logs().filter((line) => /permissions violation/i.test(line));
      expect(refused, `${service.name} ${service.pid}`).toEqual([]);
    }
  });

  it("loses nothing and every client resumes when a NATS node and one replica of each service are killed", {
    timeout: 150_000,
  }, async () => {
    if (!installed) throw new Error("the install did not come up (see the test above)");
    const { cluster: c, group, startedAt: started } = installed;
    const connectors = group("connector");

    backend = await connectBackend(c, { identity: "operator" });
    const b = backend;
    const mailbox = await (await b.jsm()).streams.info(b.s.streams.mailbox);
    expect(mailbox.config.num_replicas).toBe(3);

    balancer = await startBalancer(() => connectors.map((connector) => connector.port));
    const url = `ws://127.0.0.1:${balancer.port}/ws`;
    fleet = await startFleet({
      url: () => url,
      secret: JWT_SECRET,
      users: USERS,
      backend: b,
    });
    const f = fleet;
    const connections = async (of: Service[]) => {
      const counts = await Promise.all(of.map((s) => scrapeMetric(s, "herald_connector_connections")));
      return counts.map((n) => n ?? 0);
    };
    // The balancer spreads the clients over both connectors, as an ingress would.
    const spread = await waitUntil(
      async () => {
        const counts = await connections(connectors);
        return counts.reduce((a, n) => a + n, 0) === USERS ? counts : undefined;
      },
      { timeoutMs: 10_000, message: "all clients counted by the connectors" },
    );
    expect(Math.min(...spread)).toBeGreaterThan(USERS / 4);
    console.log(
      `cluster rehearsal: up in ${Date.now() - started} ms; clients per connector ${spread.join("/")}`,
    );

    const recorder = recordRecovery(f, TOTAL);
    let publishedAt: number | undefined;
    // A publish whose PubAck is lost with the NATS node is retried with the same id (Herald keeps one).
    let retries = 0;
    const publishing = publishPerUserInOrder(b, [...f.handled.keys()], PER_USER, {
      retryForMs: 60_000,
      ratePerSecond: RATE,
    }).then((result) => {
      publishedAt = Date.now();
      retries = result.retries;
    });
    await waitUntil(() => [...f.handled.values()].reduce((sum, ids) => sum + ids.length, 0) >= TOTAL / 4, {
      timeoutMs: 60_000,
      message: "a quarter of the messages delivered",
    });

    // The hardest victims: the node leading the mailbox stream, and the lease holders of router and presence.
    const leader = (await (await b.jsm()).streams.info(b.s.streams.mailbox)).cluster?.leader;
    const natsVictim = c.nodes.find((_, i) => `herald-n${i + 1}` === leader) ?? c.nodes[0]!;
    const router = group("router").find((s) =>
      holdsLease(s, "router lease acquired: routing", "router lease lost: standing by"),
    );
    const presence = group("presence").find((s) =>
      holdsLease(s, "emitter lease acquired", "emitter lease lost"),
    );
    const victims = [
      router ?? group("router")[0]!,
      presence ?? group("presence")[0]!,
      group("persistence")[0]!,
      connectors[0]!,
    ];
    const survivor = connectors[1]!;
    console.log(
      `cluster rehearsal: killing NATS ${leader ?? "node 1"} (mailbox leader), router ${router ? "leader" : "replica"}, ` +
        `presence ${presence ? "lease holder" : "replica"}, a persistence and a connector; ` +
        `publishing ${publishedAt === undefined ? "still running" : "done"}`,
    );
    recorder.markKill();
    const killedAt = Date.now();
    await Promise.all([natsVictim.kill(), ...victims.map((victim) => victim.kill())]);

    // Every client of the dead connector is back, on the other one.
    await waitUntil(async () => (await connections([survivor]))[0] === USERS, {
      timeoutMs: 60_000,
      message: "every client reconnected to the surviving connector",
    });
    const clientsBackMs = Date.now() - killedAt;
    await publishing;
    await f.waitAllHandled(PER_USER, 120_000);
    recorder.stop();
    const report = recorder.report(PER_USER);

    console.log(
      [
        `cluster rehearsal recovery (kill -9 of NATS ${leader} + router, presence, persistence, connector at ${report.deliveredAtKill}/${TOTAL} handled):`,
        `  all ${USERS} clients reconnected:       ${clientsBackMs} ms`,
        `  every pending user handled again:  ${report.allUsersResumedMs} ms (median ${report.medianUserResumedMs} ms, ${report.usersPending} users)`,
        `  longest pause in deliveries:       ${report.longestStallMs} ms`,
        `  rate back to half of ${report.rateBefore}/s:     ${report.rateRecoveredMs ?? "never"} ms`,
        `  all ${TOTAL} messages handled:     ${report.allDeliveredMs} ms after the kills` +
          (publishedAt === undefined ? "" : ` (publishing ended ${publishedAt - killedAt} ms after them)`),
        `  frames ${f.frames()} (${f.frames() - TOTAL} redeliveries), app repeats ${f.repeats()}, publish retries ${retries}, total ${Date.now() - started} ms`,
      ].join("\n"),
    );

    // What the surviving services did after the kills, for reading the recovery numbers.
    for (const s of services.filter((x) => !victims.includes(x) && x.name !== "connector")) {
      const lines = logTimeline(s, killedAt, 12);
      if (lines.length > 0) console.log(`  surviving ${s.name}:\n${lines.join("\n")}`);
    }
    expect(orderProblems(f.handled, PER_USER), "users not handled once each, in order").toEqual([]);
    expect(f.repeats()).toBe(0);
    expect(report.usersPending).toBeGreaterThan(0);
    expect(report.allUsersResumedMs).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(await b.deadLetters()).toEqual([]);
    // The survivors are still ready: nothing degraded for good.
    const survivors = services.filter((s) => !victims.includes(s));
    await Promise.all(survivors.map((s) => s.waitReady(10_000)));
    // The killed kinds of failure are bounded: delivery never paused longer than this.
    expect(report.longestStallMs).toBeLessThan(60_000);

    // The StatefulSet brings the node back on its store: it catches up and every stream has 3 current replicas.
    const rejoinStarted = Date.now();
    await natsVictim.restart();
    await waitUntil(
      async () => {
        const info = await (await b.jsm()).streams.info(b.s.streams.mailbox);
        const replicas = info.cluster?.replicas ?? [];
        return replicas.length === 2 && replicas.every((replica) => replica.current);
      },
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        message: "the restarted NATS node to catch up on the mailbox stream",
      },
    );
    console.log(
      `cluster rehearsal: NATS ${leader} back and current ${Date.now() - rejoinStarted} ms after its restart`,
    );
  });
});
