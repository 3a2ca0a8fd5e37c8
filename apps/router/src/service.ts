import { runHeraldService } from "@herald/service-kit";
import { createRouter } from "./app.js";
import { loadConfig } from "./config.js";
import { withHttpPublish } from "./http-publish/server.js";

// Started in the background: waiting for persistence to create the streams can take long, and SIGTERM must
// still drain meanwhile.
runHeraldService({
  name: "router",
  loadConfig,
  create: (deps) => withHttpPublish(createRouter(deps), deps),
  background: true,
  onStarted: (_, logger) => logger.info("router ready"),
});
