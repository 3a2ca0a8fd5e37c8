export * from "./api.js";
export * from "./channels.js";
export * from "./errors.js";
export * from "./frames.js";
export * from "./internal.js";
export * from "./publish.js";
export * from "./subjects.js";
export * from "./user-token.js";
