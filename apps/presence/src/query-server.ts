import type { Subjects } from "@herald/protocol";
import { type HandlerGuard, respondJson, serveJson, subscribeGuarded } from "@herald/service-kit";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { PresenceMetrics } from "./metrics.js";
import { presenceGet } from "./queries.js";
import type { Registry } from "./registry.js";

export type QueryServerDeps = {
  nc: NatsConnection;
  s: Subjects;
  guard: HandlerGuard;
  metrics: PresenceMetrics;
  registry: Registry;
};

/** Answers presence queries, spread over the replicas by the `presence` queue group. */
export function serveQueries({ nc, s, guard, metrics, registry }: QueryServerDeps): Subscription[] {
  return [
    serveJson(nc, s.presenceGet, "presence", guard, async (request) => {
      metrics.queries.inc({ api: "get" });
      return presenceGet(registry, request);
    }),
    // Any body is accepted (backends send `{}` or nothing).
    subscribeGuarded(
      nc,
      s.presenceCount,
      guard,
      s.presenceCount,
      (msg) => {
        metrics.queries.inc({ api: "count" });
        respondJson(nc, msg, guard, s.presenceCount, registry.count());
      },
      { queue: "presence" },
    ),
  ];
}
