export * from "./admin-server.js";
export * from "./config.js";
export * from "./lifecycle.js";
export * from "./logger.js";
export * from "./metrics.js";
export * from "./nats.js";
export * from "./streams.js";
export * from "./telemetry.js";
