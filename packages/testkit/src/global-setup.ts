import { announceNatsMode } from "./nats-mode.js";

// vitest's global setup (vitest.config.ts): runs once in the main process before any test file.
export default function setup(): void {
  announceNatsMode();
}
