import { runHeraldService } from "@herald/service-kit";
import { createPersistence } from "./app.js";
import { loadConfig } from "./config.js";

runHeraldService({ name: "persistence", loadConfig, create: createPersistence });
