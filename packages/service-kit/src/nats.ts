import { readFileSync } from "node:fs";
import { subjects } from "@herald/protocol";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
} from "@nats-io/transport-node";
import type { BaseConfig } from "./config.js";
import { JsPublisher } from "./js-publisher.js";
import type { Logger } from "./logger.js";

export type Nats = {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** JetStream publishes on the hot path (many PubAcks in flight; see `JsPublisher`). */
  publisher: JsPublisher;
  /** False while the connection is down or reconnecting. */
  connected: () => boolean;
};

/**
 * The oldest nats-server Herald runs on. Tests run on the version pinned in toolchain.json; 2.11 is the oldest
 * release line with every JetStream feature Herald relies on or is moving to (2.10's subject transforms and
 * multi-filter consumers, 2.11's per-message TTL, batch direct get and pinned consumer groups).
 */
export const MIN_NATS_SERVER = "2.11.0";

/** Raised at start-up when the server is older than `MIN_NATS_SERVER`. */
export class NatsServerTooOldError extends Error {
  override name = "NatsServerTooOldError";
  readonly code = "nats_server_too_old";
  constructor(readonly version: string) {
    super(`nats-server ${version} is older than ${MIN_NATS_SERVER}, the oldest Herald supports: upgrade it`);
  }
}

/** True when `version` (x.y.z, maybe with a suffix) is at least `minimum`. */
export function versionAtLeast(version: string, minimum: string): boolean {
  const parts = (v: string) =>
    v
      .split(/[.-]/)
      .slice(0, 3)
      .map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [parts(version), parts(minimum)];
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** Servers, credentials and TLS from the standard variables (`NATS_URL`, `NATS_USER`…), for any client. */
export function natsConnectOptions(
  config: Pick<
    BaseConfig,
    | "NATS_URL"
    | "NATS_USER"
    | "NATS_PASSWORD"
    | "NATS_TOKEN"
    | "NATS_CREDS_FILE"
    | "NATS_NKEY_SEED_FILE"
    | "NATS_TLS_CA_FILE"
    | "NATS_TLS_CERT_FILE"
    | "NATS_TLS_KEY_FILE"
  >,
): ConnectionOptions {
  const tls =
    config.NATS_TLS_CA_FILE || config.NATS_TLS_CERT_FILE
      ? {
          ...(config.NATS_TLS_CA_FILE ? { caFile: config.NATS_TLS_CA_FILE } : {}),
          ...(config.NATS_TLS_CERT_FILE ? { certFile: config.NATS_TLS_CERT_FILE } : {}),
          ...(config.NATS_TLS_KEY_FILE ? { keyFile: config.NATS_TLS_KEY_FILE } : {}),
        }
      : undefined;
  const authenticator = config.NATS_CREDS_FILE
    ? credsAuthenticator(readFileSync(config.NATS_CREDS_FILE))
    : config.NATS_NKEY_SEED_FILE
      ? nkeyAuthenticator(new TextEncoder().encode(readFileSync(config.NATS_NKEY_SEED_FILE, "utf8").trim()))
      : undefined;
  return {
    servers: config.NATS_URL,
    ...(config.NATS_USER ? { user: config.NATS_USER } : {}),
    ...(config.NATS_PASSWORD ? { pass: config.NATS_PASSWORD } : {}),
    ...(config.NATS_TOKEN ? { token: config.NATS_TOKEN } : {}),
    ...(authenticator ? { authenticator } : {}),
    ...(tls ? { tls } : {}),
  };
}

/**
 * Connects with settings fit for a long-running service: reconnect forever, no per-request stack traces.
 * With an `identity` (the service name), replies go below that identity's inbox prefix, the only inbox its
 * NATS permissions let it read (`natsPermissions` in @herald/protocol).
 */
export async function connectNats(
  config: BaseConfig,
  name: string,
  logger: Logger,
  identity?: string,
): Promise<Nats> {
  const inboxPrefix =
    identity === undefined ? undefined : subjects(config.HERALD_PREFIX).inboxPrefix(identity);
  const nc = await connect({
    ...natsConnectOptions(config),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: config.NATS_PING_INTERVAL,
    maxPingOut: config.NATS_MAX_PINGS_OUT,
    // nats.js would dial the server it just lost first, and a hung one still accepts TCP, so the attempt
    // waits out the 20 s connection timeout: dial the one tried least recently instead, so a reconnect goes
    // straight to a node not yet known to be bad. (A shorter connection timeout would do it too, but makes a
    // start on a loaded machine fail over and over.)
    reconnectToServer: (pool) => pool.reduce((a, b) => (b.lastConnect < a.lastConnect ? b : a)),
    waitOnFirstConnect: true,
    noAsyncTraces: true,
    ...(inboxPrefix ? { inboxPrefix } : {}),
  });
  const version = nc.info?.version ?? "0.0.0";
  if (!versionAtLeast(version, MIN_NATS_SERVER)) {
    await nc.close();
    throw new NatsServerTooOldError(version);
  }
  let up = true;
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "reconnecting") {
        if (up) logger.warn({ status: status.type }, "nats connection lost");
        up = false;
      } else if (status.type === "reconnect") {
        up = true;
        logger.info("nats reconnected");
      } else if (status.type === "error") {
        logger.warn({ err: status.error }, "nats error");
      }
    }
  })().catch(() => {});
  const publisher = new JsPublisher(nc, { timeoutMs: 5_000, ...(inboxPrefix ? { inboxPrefix } : {}) });
  void nc.closed().then(() => publisher.close());
  return {
    nc,
    js: jetstream(nc),
    // No API probe: a cluster without a quorum would time it out and stop the service before it could wait.
    jsm: await jetstreamManager(nc, { checkAPI: false }),
    publisher,
    connected: () => up && !nc.isClosed(),
  };
}
