import { connectNats, createLogger, createMetrics, runService, startAdminServer } from "@herald/service-kit";
import { createPersistence } from "./app.js";
import { loadConfig } from "./config.js";

runService(async () => {
  const config = loadConfig();
  const logger = createLogger("persistence", config.LOG_LEVEL);
  const metrics = createMetrics("persistence");
  const nats = await connectNats(config, "herald-persistence", logger);
  const app = createPersistence({ nats, config, logger, metrics });
  let draining = false;
  const admin = await startAdminServer({
    port: config.ADMIN_PORT,
    metrics,
    notReadyReason: () => (draining ? "draining" : app.notReadyReason()),
  });
  logger.info({ port: admin.port }, "admin listening");
  await app.start();
  return {
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT,
    service: {
      stop: async () => {
        draining = true;
        await app.stop();
        await nats.nc.drain();
        await admin.close();
      },
    },
  };
});
