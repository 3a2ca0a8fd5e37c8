import { accessSync, constants } from "node:fs";
import { pinnedNatsPath } from "./toolchain.mjs";

/**
 * `NATS_SERVER_BIN` (set by `npm test` and `npm run dev` to the pinned server), else the pinned server in
 * `.tools/`; undefined when neither is there. Never a system nats-server: its version is not the pinned one.
 */
export function findNatsServer() {
  for (const candidate of [process.env.NATS_SERVER_BIN, pinnedNatsPath()]) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
