import { payloadBudget, REPLAY_PACING, type Subjects } from "@herald/protocol";
import {
  apiLoad,
  type HandlerGuard,
  type Logger,
  maxPayload,
  type Nats,
  serveJson,
} from "@herald/service-kit";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/transport-node";
import { channelReplayPage } from "./channel-replay.js";
import type { Config } from "./config.js";
import { getCursors } from "./cursor-api.js";
import type { CursorStore } from "./cursor-store.js";
import { gapNotice, mailboxLookups } from "./gap-check.js";
import { deadLetterer } from "./mailbox-reader.js";
import type { PersistenceMetrics } from "./metrics.js";
import type { PageLimits } from "./page.js";
import { replayPage } from "./replay.js";

/**
 * How long one read of a replay (a direct get) waits. A get answers in milliseconds; one sent to a NATS node
 * as it hung is lost, and failing the page soon lets the connector ask again (it retries at once, with
 * back-off) instead of stalling its users for the 5 s default of the manager that writes.
 */
export const READ_TIMEOUT_MS = 2_000;

export type QueryServerDeps = {
  nats: Nats;
  /** The JetStream manager for replay reads, with READ_TIMEOUT_MS. */
  reads: JetStreamManager;
  config: Config;
  s: Subjects;
  store: CursorStore;
  guard: HandlerGuard;
  logger: Logger;
  metrics: PersistenceMetrics;
};

/** Serves user replay, cursor and channel replay queries, spread over the replicas by a queue group. */
export function serveQueries({
  nats,
  reads,
  config,
  s,
  store,
  guard,
  logger,
  metrics,
}: QueryServerDeps): Subscription[] {
  const limits: PageLimits = {
    budget: () => payloadBudget(maxPayload(nats.nc)),
    onUnsendable: (stream, seq, why) => {
      metrics.unsendable.inc();
      logger.error({ stream, seq, why }, "stored message cannot be sent in any reply; passed over");
    },
  };
  const deadLetter = deadLetterer(nats.publisher, s, s.streams.mailbox, (reason) =>
    metrics.deadLetters.inc({ reason }),
  );
  const gaps = {
    lookups: mailboxLookups(reads, s),
    notice: gapNotice(nats.nc, s, metrics.gaps, logger),
  };
  const deps = { jsm: reads, s, store, limits, deadLetter, gaps, readTimeoutMs: READ_TIMEOUT_MS };
  const channelDeps = { jsm: reads, s, groups: config.HERALD_CHANNEL_RETENTION, limits };
  // One limit for both replay APIs: they share the reads, and a storm asks for both.
  const load = apiLoad({
    concurrency: REPLAY_PACING.concurrency,
    staleAfterMs: REPLAY_PACING.retryAfterMs,
    onStale: () => metrics.staleReplays.inc(),
  });
  return [
    serveJson(
      nats.nc,
      s.replay,
      "persistence",
      guard,
      (request) => {
        metrics.replays.inc();
        return replayPage(deps, request);
      },
      load,
    ),
    serveJson(nats.nc, s.cursorGet, "persistence", guard, (request) => getCursors(deps, request)),
    serveJson(
      nats.nc,
      s.channelReplay,
      "persistence",
      guard,
      (request) => channelReplayPage(channelDeps, request),
      load,
    ),
  ];
}
