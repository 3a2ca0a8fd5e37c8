import { runHeraldService } from "@herald/service-kit";
import { createPresence } from "./app.js";
import { loadConfig } from "./config.js";

runHeraldService({ name: "presence", loadConfig, create: createPresence });
