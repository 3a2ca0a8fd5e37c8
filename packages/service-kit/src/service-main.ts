import { startAdminServer } from "./admin-server.js";
import { sleep } from "./backoff.js";
import type { BaseConfig } from "./config.js";
import { limitHeapGrowth } from "./heap.js";
import { runService } from "./lifecycle.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, type Registry } from "./metrics.js";
import { connectNats, type Nats } from "./nats.js";
import { shutdownTracing } from "./tracing.js";

/** What a service's `app.ts` factory returns. */
export type ServiceApp<Started = void> = {
  start(): Promise<Started>;
  /** The service's own ordered drain (stop taking work, finish or hand back what it holds). */
  stop(): Promise<void>;
  notReadyReason(): string | undefined;
};

export type ServiceDeps<Config> = { nats: Nats; config: Config; logger: Logger; metrics: Registry };

export type HeraldServiceOptions<Config extends BaseConfig, Started> = {
  name: string;
  loadConfig: () => Config;
  create: (deps: ServiceDeps<Config>) => ServiceApp<Started>;
  /** Starts without waiting (e.g. while it waits for streams), so SIGTERM still drains cleanly meanwhile. */
  background?: boolean;
  onStarted?: (started: Started, logger: Logger) => void;
  natsName?: (config: Config) => string;
};

/**
 * The composition root every service shares: config (exit 1 on errors), the heap's growth bound, logger, metrics, NATS, the admin
 * server (logged as `admin listening`), then the app; on SIGTERM readiness goes off first, then after
 * `SHUTDOWN_DELAY` the app drains, then NATS, then the admin server.
 *
 * @example
 * runHeraldService({ name: "router", loadConfig, create: createRouter });
 */
export function runHeraldService<Config extends BaseConfig, Started>(
  options: HeraldServiceOptions<Config, Started>,
): void {
  runService(async () => {
    const config = options.loadConfig();
    limitHeapGrowth(config.HERALD_HEAP_GROWTH_PERCENT);
    const logger = createLogger(options.name, config.LOG_LEVEL);
    const metrics = createMetrics(options.name);
    const nats = await connectNats(
      config,
      options.natsName?.(config) ?? `herald-${options.name}`,
      logger,
      options.name,
    );
    const app = options.create({ nats, config, logger, metrics });
    let draining = false;
    const admin = await startAdminServer({
      port: config.ADMIN_PORT,
      metrics,
      notReadyReason: () => (draining ? "draining" : app.notReadyReason()),
    });
    logger.info({ port: admin.port }, "admin listening");
    const started = app.start().then((result) => {
      if (!draining) options.onStarted?.(result, logger);
    });
    if (options.background) {
      started.catch((err: unknown) => {
        logger.fatal({ err }, `${options.name} failed to start`);
        process.exit(1);
      });
    } else {
      await started;
    }
    return {
      logger,
      timeoutMs: config.SHUTDOWN_TIMEOUT,
      service: {
        stop: async () => {
          // Readiness goes first so load balancers stop sending work before anything closes.
          draining = true;
          await sleep(config.SHUTDOWN_DELAY);
          await app.stop();
          await nats.nc.drain();
          await admin.close();
          await shutdownTracing();
        },
      },
    };
  });
}
