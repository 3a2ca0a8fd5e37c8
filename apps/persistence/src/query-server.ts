import { payloadBudget, type Subjects } from "@herald/protocol";
import { type HandlerGuard, type Logger, maxPayload, type Nats, serveJson } from "@herald/service-kit";
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

export type QueryServerDeps = {
  nats: Nats;
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
    lookups: mailboxLookups(nats.jsm, s),
    notice: gapNotice(nats.nc, s, metrics.gaps, logger),
  };
  const deps = { jsm: nats.jsm, s, store, limits, deadLetter, gaps };
  const channelDeps = { jsm: nats.jsm, s, groups: config.HERALD_CHANNEL_RETENTION, limits };
  return [
    serveJson(nats.nc, s.replay, "persistence", guard, (request) => {
      metrics.replays.inc();
      return replayPage(deps, request);
    }),
    serveJson(nats.nc, s.cursorGet, "persistence", guard, (request) => getCursors(deps, request)),
    serveJson(nats.nc, s.channelReplay, "persistence", guard, (request) =>
      channelReplayPage(channelDeps, request),
    ),
  ];
}
