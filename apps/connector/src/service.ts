import { runHeraldService } from "@herald/service-kit";
import { createConnector } from "./app.js";
import { loadConfig } from "./config.js";

runHeraldService({
  name: "connector",
  loadConfig,
  create: createConnector,
  natsName: (config) => `herald-connector-${config.CONNECTOR_ID}`,
  onStarted: ({ port, connectorId }, logger) => logger.info({ port, connectorId }, "websocket listening"),
});
