import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DEFAULT_PREFIX,
  NATS_IDENTITIES,
  type NatsIdentity,
  natsAccountsConfig,
  natsPassword,
  natsUser,
  passwordEnv,
  subjects,
} from "@herald/protocol";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { repoRoot } from "./processes.js";

/** The shipped NATS identities (k8s/nats/auth.conf), generated for the default prefix and channel groups. */
export const SHIPPED_AUTH_CONF = join(repoRoot, "k8s", "nats", "auth.conf");

/**
 * Herald's NATS identities on a test server: the shipped permissions (`natsAccountsConfig`) with a fresh random
 * password per identity, handed to nats-server in the env vars the config names.
 */
export type NatsAuth = {
  prefix: string;
  channelRetention: string | undefined;
  users: Record<NatsIdentity, { user: string; password: string }>;
  /** The `accounts { }` block the server runs with. */
  config: string;
};

/**
 * Identities for `startNatsServer({ auth })`. For the default prefix and channel groups the config is the
 * shipped file itself (a unit test keeps it equal to the generator's output); otherwise the generator's.
 */
export function createNatsAuth(options: { prefix?: string; channelRetention?: string } = {}): NatsAuth {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const users = Object.fromEntries(
    NATS_IDENTITIES.map((identity) => [
      identity,
      { user: natsUser(identity, prefix), password: natsPassword(randomBytes(24)) },
    ]),
  ) as NatsAuth["users"];
  const shipped = prefix === DEFAULT_PREFIX && options.channelRetention === undefined;
  const config = shipped
    ? readFileSync(SHIPPED_AUTH_CONF, "utf8")
    : natsAccountsConfig({ ...options, prefix });
  return { prefix, channelRetention: options.channelRetention, users, config };
}

/** Something with a NATS URL, and the identities when the server has them. */
export type NatsTarget = { url: string; auth?: NatsAuth | undefined };

/** Client options for `identity` on `target`: its user, password and the inbox prefix its permissions allow. */
export function natsClientOptions(target: NatsTarget | string, identity: NatsIdentity): ConnectionOptions {
  const { url, auth } = typeof target === "string" ? { url: target, auth: undefined } : target;
  const servers = url.split(",");
  if (!auth) return { servers };
  const { user, password } = auth.users[identity];
  return { servers, user, pass: password, inboxPrefix: subjects(auth.prefix).inboxPrefix(identity) };
}

/** `NATS_USER`/`NATS_PASSWORD` for a service process running as `identity` (none without auth). */
export function natsServiceEnv(target: NatsTarget, identity: NatsIdentity): Record<string, string> {
  if (!target.auth) return {};
  const { user, password } = target.auth.users[identity];
  return { NATS_USER: user, NATS_PASSWORD: password };
}

/** nats-server's env: the password of each identity, in the variables the config names (none without auth). */
export function natsServerAuthEnv(auth: NatsAuth | undefined): Record<string, string> {
  if (!auth) return {};
  return Object.fromEntries(
    NATS_IDENTITIES.map((identity) => [passwordEnv(identity), auth.users[identity].password]),
  );
}
