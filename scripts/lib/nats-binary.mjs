import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** `NATS_SERVER_BIN`, Debian's /usr/sbin/nats-server, or the first one on PATH; undefined when there is none. */
export function findNatsServer() {
  const candidates = [
    process.env.NATS_SERVER_BIN,
    "/usr/sbin/nats-server",
    ...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "nats-server")),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
