import {
  connectNats,
  createLogger,
  createMetrics,
  delay,
  runService,
  startAdminServer,
} from "@herald/service-kit";
import { createRouter } from "./app.js";
import { loadConfig } from "./config.js";

runService(async () => {
  const config = loadConfig();
  const logger = createLogger("router", config.LOG_LEVEL);
  const metrics = createMetrics("router");
  const nats = await connectNats(config, "herald-router", logger);
  const router = createRouter({ nats, config, logger, metrics });
  let stopping = false;
  const admin = await startAdminServer({
    port: config.ADMIN_PORT,
    metrics,
    notReadyReason: () => (stopping ? "shutting down" : router.notReadyReason()),
  });
  logger.info({ port: admin.port }, "admin listening");
  // Not awaited: waiting for persistence to create the streams can take long, and SIGTERM must still drain.
  router.start().then(
    () => {
      if (!stopping) logger.info("router ready");
    },
    (err: unknown) => {
      logger.fatal({ err }, "router failed to start");
      process.exit(1);
    },
  );
  const stop = async () => {
    stopping = true;
    await delay(config.SHUTDOWN_DELAY);
    await router.stop();
    await nats.nc.drain();
    await admin.close();
  };
  return { service: { stop }, logger, timeoutMs: config.SHUTDOWN_TIMEOUT };
});
