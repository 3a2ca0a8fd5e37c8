import { connectNats, createLogger, createMetrics, type Nats } from "@herald/service-kit";
import { createPresence } from "../app.js";
import { loadConfig } from "../config.js";

/** Fast timings for tests; the defaults are the production ones (10 s timeout, 3.5 s sync, 3 s lease). */
export const testEnv = {
  PRESENCE_CONNECTOR_TIMEOUT: "1500ms",
  PRESENCE_SYNC_WAIT: "300ms",
  PRESENCE_LEASE_TTL: "900ms",
  PRESENCE_LEASE_RENEW: "300ms",
  LOG_LEVEL: "silent",
};

export type Replica = Awaited<ReturnType<typeof startReplica>>;

/** One presence replica in this process, on its own NATS connection (as a separate pod would be). */
export async function startReplica(url: string, env: Record<string, string> = {}) {
  const config = loadConfig({ ...testEnv, ...env, NATS_URL: url, ADMIN_PORT: "0" });
  const logger = createLogger("presence", config.LOG_LEVEL);
  const metrics = createMetrics("presence");
  const nats: Nats = await connectNats(config, "herald-presence-test", logger);
  const app = createPresence({ nats, config, logger, metrics });
  await app.start();
  return {
    app,
    nats,
    metrics,
    /** Graceful: releases the lease, drains. */
    stop: async () => {
      await app.stop();
      await nats.nc.drain();
    },
    /** Like kill -9 as seen from NATS: the connection drops, nothing is released. */
    crash: async () => {
      await app.stop().catch(() => {});
      await nats.nc.close();
    },
  };
}
