import { connectNats, createLogger, createMetrics, runService, startAdminServer } from "@herald/service-kit";
import { createRouter } from "./app.js";
import { loadConfig } from "./config.js";

runService(async () => {
  const config = loadConfig();
  const logger = createLogger("presence", config.LOG_LEVEL);
  const metrics = createMetrics("presence");
  const nats = await connectNats(config, "herald-presence", logger);
  const app = createRouter({ nats, config, logger, metrics });
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
