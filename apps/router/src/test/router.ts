import { subjects } from "@herald/protocol";
import { createLogger, createMetrics, type Nats, type Registry } from "@herald/service-kit";
import { createRouter, type Router } from "../app.js";
import { loadConfig } from "../config.js";
import { connectTest } from "./support.js";

/** A router on its own connection, as one replica would run it. */
export type RouterFixture = { router: Router; nats: Nats; metrics: Registry; stop(): Promise<void> };

export async function startRouter(url: string, env: Record<string, string> = {}): Promise<RouterFixture> {
  const nats = await connectTest(url, "herald-router");
  const config = loadConfig({ NATS_URL: url, ...env });
  const metrics = createMetrics("router");
  const logger = createLogger("router", process.env.TEST_LOG_LEVEL ?? "silent");
  const router = createRouter({ nats, config, logger, metrics });
  await router.start();
  return {
    router,
    nats,
    metrics,
    async stop() {
      await router.stop();
      if (!nats.nc.isClosed()) await nats.nc.drain();
    },
  };
}

/** Sum of a counter's values (optionally only those with `labels`) in one registry. */
export async function counter(
  metrics: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

/** True once every lane's consumer holds nothing: every message was routed and acked. */
export async function intakeSettled(nats: Nats, prefix: string): Promise<boolean> {
  const s = subjects(prefix);
  const info = await nats.jsm.streams.info(s.streams.intake);
  return info.state.messages === 0;
}
