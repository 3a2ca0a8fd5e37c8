import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Subjects } from "@herald/protocol";
import {
  type HandlerGuard,
  type Logger,
  logStreamWait,
  type Nats,
  runGuarded,
  type WakeableSleeps,
  waitForStreams,
} from "@herald/service-kit";
import type { Subscription } from "@nats-io/transport-node";
import type { AckPublisher } from "./ack-publisher.js";
import type { Broadcast } from "./broadcast.js";
import type { Config } from "./config.js";
import type { Connections } from "./connections.js";
import { followControl } from "./control.js";
import type { PresenceReporter } from "./presence-reporter.js";
import { resyncOnReconnect } from "./resync.js";

export type LifecycleParts = {
  nats: Nats;
  config: Config;
  logger: Logger;
  guard: HandlerGuard;
  s: Subjects;
  connections: Connections;
  broadcast: Broadcast;
  presence: PresenceReporter;
  acks: AckPublisher;
  /** Where the feeds' failed replays wait to retry. */
  replayRetries: WakeableSleeps;
  /** The public server, built once the streams exist; `accepting` says whether it takes new clients. */
  createServer: (accepting: () => boolean) => Server;
};

/** How often expired tokens are looked for: a connection ends at most this long after its token's `exp`. */
const EXPIRY_SWEEP_MS = 1_000;
/** Keep-alive pings go out a slice every this long, spread over `HERALD_PING_INTERVAL` (`PacedSweep`). */
const PING_TICK_MS = 100;

/** Starting (once persistence has made the streams), readiness, and the ordered drain. */
export function connectorLifecycle(p: LifecycleParts) {
  const abort = new AbortController();
  let streamsReady = false;
  let accepting = true;
  let server: Server | undefined;
  let control: Subscription | undefined;
  const timers: NodeJS.Timeout[] = [];

  async function start(): Promise<{ port: number; connectorId: string }> {
    await waitForStreams(
      p.nats.jsm,
      [p.s.streams.mailbox, p.s.streams.acks],
      abort.signal,
      logStreamWait(p.logger),
    );
    streamsReady = true;
    const srv = p.createServer(() => accepting);
    server = srv;
    p.presence.start();
    p.broadcast.start();
    control = followControl(p.nats.nc, p.s, () => p.connections, p.guard);
    void resyncOnReconnect(p.nats.nc, p.guard, p.logger, {
      connections: () => p.connections.size,
      run: () => {
        p.connections.resyncAll();
        p.broadcast.resync();
        // Feeds still waiting out a retry from while NATS was away try again now.
        p.replayRetries.wakeAll();
      },
    });
    const every = (ms: number, name: string, run: () => void) =>
      timers.push(setInterval(() => runGuarded(p.guard, name, run), ms));
    const pings = p.connections.pinger(p.config.HERALD_PING_INTERVAL, PING_TICK_MS);
    every(pings.tickMs, "ping", () => pings.tick());
    every(EXPIRY_SWEEP_MS, "expiry", () => p.connections.expireAll());
    // Overdue messages go again within a quarter of the ack timeout of falling due.
    every(Math.max(200, Math.min(5_000, p.config.HERALD_ACK_TIMEOUT / 4)), "resend", () =>
      p.connections.resendAll(),
    );
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({ port: p.config.PORT, host: "0.0.0.0", backlog: p.config.HERALD_LISTEN_BACKLOG }, () =>
        resolve(),
      );
    });
    return { port: (srv.address() as AddressInfo).port, connectorId: p.config.CONNECTOR_ID };
  }

  /** Ordered drain: refuse new clients, tell connected ones to go elsewhere (1001), stop reporting presence. */
  async function stop(): Promise<void> {
    accepting = false;
    abort.abort();
    p.acks.stopRetrying();
    control?.unsubscribe();
    p.broadcast.close();
    for (const timer of timers) clearInterval(timer);
    await p.connections.drain();
    await p.acks.flush().catch((err: unknown) => p.logger.warn({ err }, "could not write the last acks"));
    p.presence.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  function notReadyReason(): string | undefined {
    if (!accepting) return "draining";
    if (!p.nats.connected()) return "nats disconnected";
    if (!streamsReady) return "waiting for streams";
    return undefined;
  }

  return { start, stop, notReadyReason };
}
