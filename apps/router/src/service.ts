import { runHeraldService } from "@herald/service-kit";
import { createRouter } from "./app.js";
import { loadConfig } from "./config.js";

// Started in the background: waiting for persistence to create the streams can take long, and SIGTERM must
// still drain meanwhile.
runHeraldService({
  name: "router",
  loadConfig,
  create: createRouter,
  background: true,
  onStarted: (_, logger) => logger.info("router ready"),
});
