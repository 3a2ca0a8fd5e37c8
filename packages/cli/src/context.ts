import { type Subjects, subjects } from "@herald/protocol";
import { baseEnvSchema, natsConnectOptions, parseEnv } from "@herald/service-kit";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { CommandFailedError, UnavailableError, UsageError } from "./errors.js";

export type Io = { out: (line: string) => void; err: (line: string) => void };

export type Options = {
  json: boolean;
  id?: string | undefined;
  /** `publish users`: the partition key (`send.users.<key>`). */
  key?: string | undefined;
  since?: string | undefined;
  count?: string | undefined;
  timeout?: string | undefined;
  reason?: string | undefined;
  seq?: string | undefined;
  limit?: string | undefined;
  keep: boolean;
  yes: boolean;
};

/** What every command gets: the connection, subject names, options and output. */
export type Ctx = {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  s: Subjects;
  config: ReturnType<typeof loadCliConfig>;
  options: Options;
  /** Prints `human` lines, or `json` as one line with `--json`. */
  print: (human: string | string[], json: unknown) => void;
  io: Io;
};

const cliEnvSchema = baseEnvSchema
  .pick({
    NATS_URL: true,
    NATS_USER: true,
    NATS_PASSWORD: true,
    NATS_TOKEN: true,
    NATS_CREDS_FILE: true,
    NATS_NKEY_SEED_FILE: true,
    NATS_TLS_CA_FILE: true,
    NATS_TLS_CERT_FILE: true,
    NATS_TLS_KEY_FILE: true,
    HERALD_PREFIX: true,
    HERALD_CHANNEL_RETENTION: true,
  })
  .extend({
    // The NATS identity the CLI speaks as: replies come below its inbox prefix, the only inbox its permissions
    // let it read (docs/security.md). The operator is the one made for this tool.
    HERALD_NATS_IDENTITY: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .default("operator"),
  });

export function loadCliConfig(env: Record<string, string | undefined>) {
  return parseEnv(cliEnvSchema, env);
}

/** Connects once, without reconnecting: a command either reaches NATS now or exits 3. */
export async function openContext(
  env: Record<string, string | undefined>,
  options: Options,
  io: Io,
): Promise<Ctx> {
  const config = loadCliConfig(env);
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...natsConnectOptions(config),
      inboxPrefix: subjects(config.HERALD_PREFIX).inboxPrefix(config.HERALD_NATS_IDENTITY),
      name: "herald-cli",
      maxReconnectAttempts: 0,
      timeout: 5_000,
    });
  } catch (err) {
    throw new UnavailableError(
      `cannot connect to NATS at ${config.NATS_URL.join(",")}: ${(err as Error).message}`,
    );
  }
  return {
    nc,
    js: jetstream(nc, { timeout: 10_000 }),
    jsm: await jetstreamManager(nc, { timeout: 10_000 }),
    s: subjects(config.HERALD_PREFIX),
    config,
    options,
    io,
    print: (human, json) => {
      if (options.json) io.out(JSON.stringify(json));
      else for (const line of Array.isArray(human) ? human : [human]) io.out(line);
    },
  };
}

/** A request to one of Herald's JSON APIs; an `{error}` answer becomes a failure. */
export async function requestJson<T>(ctx: Ctx, subject: string, body: unknown): Promise<T> {
  let reply: unknown;
  try {
    reply = (await ctx.nc.request(subject, JSON.stringify(body), { timeout: 5_000 })).json();
  } catch (err) {
    throw new CommandFailedError(`${subject}: ${(err as Error).message}`);
  }
  const error = (reply as { error?: { code?: string; message?: string } }).error;
  if (error) throw new CommandFailedError(`${subject}: ${error.code ?? "error"}: ${error.message ?? ""}`);
  return reply as T;
}

/** A positive integer option, or `fallback`. */
export function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number`);
  return n;
}
