import {
  connectNats,
  createLogger,
  createMetrics,
  delay,
  runService,
  startAdminServer,
} from "@herald/service-kit";
import { createConnector } from "./app.js";
import { loadConfig } from "./config.js";

runService(async () => {
  const config = loadConfig();
  const logger = createLogger("connector", config.LOG_LEVEL);
  const metrics = createMetrics("connector");
  const nats = await connectNats(config, `herald-connector-${config.CONNECTOR_ID}`, logger);
  const app = createConnector({ nats, config, logger, metrics });
  let draining = false;
  const admin = await startAdminServer({
    port: config.ADMIN_PORT,
    metrics,
    notReadyReason: () => (draining ? "draining" : app.notReadyReason()),
  });
  logger.info({ port: admin.port }, "admin listening");
  const port = await app.start();
  logger.info({ port, connectorId: config.CONNECTOR_ID }, "websocket listening");
  return {
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT,
    service: {
      stop: async () => {
        // Readiness goes first so load balancers stop sending new clients before sockets close.
        draining = true;
        await delay(config.SHUTDOWN_DELAY);
        await app.stop();
        await nats.nc.drain();
        await admin.close();
      },
    },
  };
});
