import {
  BROADCAST_RETENTION,
  type ChannelRetention,
  DEFAULT_CHANNEL_RETENTION,
  parseChannelRetention,
} from "./channels.js";
import { DEFAULT_PREFIX, type Subjects, subjects } from "./subjects.js";

/** Herald's NATS identities: one per service, and two for backends. */
export const NATS_IDENTITIES = [
  "connector",
  "router",
  "presence",
  "persistence",
  "publisher",
  "operator",
] as const;
export type NatsIdentity = (typeof NATS_IDENTITIES)[number];

/** What one identity may do; `allowResponses` lets it answer the requests it receives (their reply subjects). */
export type NatsPermissions = { publish: string[]; subscribe: string[]; allowResponses: boolean };

/** How the generated config names a password: an environment variable of nats-server, or the value itself. */
export type PasswordRef = { env: string } | { value: string };

export type NatsAuthOptions = {
  /** `HERALD_PREFIX` (default `herald`). */
  prefix?: string;
  /** `HERALD_CHANNEL_RETENTION`: persistence may manage exactly these groups' streams (default: the default). */
  channelRetention?: string;
  /** The account holding the identities (default `HERALD`). */
  account?: string;
  /** Password of each identity (default: the env var `passwordEnv(identity)`). */
  password?: (identity: NatsIdentity) => PasswordRef;
};

/** Raised when a generated value cannot be written into a nats-server config. */
export class NatsAuthConfigError extends Error {
  override name = "NatsAuthConfigError";
  readonly code = "nats_auth_config";
}

const API = "$JS.API";

/** The NATS user name of an identity: `<prefix>-<identity>`, so two installations can share a server. */
export function natsUser(identity: NatsIdentity, prefix: string = DEFAULT_PREFIX): string {
  return `${subjects(prefix).prefix}-${identity}`;
}

/**
 * A password nats-server can take from an env var: it parses a variable's value as a config value, so one that
 * starts with a digit or `-`, or holds `+/=,#` or spaces, fails to load. Letters and digits, starting with a
 * letter, always read back as a string.
 *
 * @example
 * natsPassword(crypto.getRandomValues(new Uint8Array(24))) // "p3f9a…" (49 characters)
 */
export function natsPassword(random: Uint8Array): string {
  if (random.length < 16) throw new NatsAuthConfigError("a NATS password needs at least 16 random bytes");
  return `p${Array.from(random, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

/** True when `password` is safe as a nats-server variable's value (see `natsPassword`). */
export function isNatsSafePassword(password: string): boolean {
  return /^[A-Za-z][A-Za-z0-9]{15,}$/.test(password);
}

/** Default nats-server env var holding an identity's password, e.g. `HERALD_NATS_CONNECTOR_PASSWORD`. */
export function passwordEnv(identity: NatsIdentity): string {
  return `HERALD_NATS_${identity.toUpperCase()}_PASSWORD`;
}

/** The JetStream API subjects that manage or read one stream. */
function stream(name: string) {
  return {
    info: `${API}.STREAM.INFO.${name}`,
    create: `${API}.STREAM.CREATE.${name}`,
    update: `${API}.STREAM.UPDATE.${name}`,
    msgGet: `${API}.STREAM.MSG.GET.${name}`,
    directGet: `${API}.DIRECT.GET.${name}`,
    /** Direct gets by last subject: `$JS.API.DIRECT.GET.<stream>.<subject>`. */
    directGetLast: `${API}.DIRECT.GET.${name}.>`,
    /** A durable or named consumer: create/update (same subject), info, next message, acks. */
    consumer: (consumer: string) => [
      `${API}.CONSUMER.CREATE.${name}.${consumer}`,
      `${API}.CONSUMER.INFO.${name}.${consumer}`,
      `${API}.CONSUMER.MSG.NEXT.${name}.${consumer}`,
      `$JS.ACK.${name}.${consumer}.>`,
    ],
  };
}

/** Stream and subjects of a KV bucket, as `@nats-io/kv` uses them. */
function bucket(name: string) {
  const kvStream = stream(`KV_${name}`);
  return {
    stream: `KV_${name}`,
    /** Opening (and first creating) the bucket. */
    open: [kvStream.info, kvStream.create],
    /** Writes of one key (`*` for any): a put, create, update or delete is a publish on it. */
    write: (key: string) => `$KV.${name}.${key}`,
    /** Reads of one key (`*` or `>` for any): a direct get by last subject. */
    read: (key: string) => `${kvStream.directGet}.$KV.${name}.${key}`,
  };
}

function channelStreams(s: Subjects, channelRetention: string | undefined): string[] {
  const groups: ChannelRetention[] = [
    ...parseChannelRetention(channelRetention ?? DEFAULT_CHANNEL_RETENTION),
    BROADCAST_RETENTION,
  ];
  return groups.map((group) => s.streams.channel(group.id));
}

/** What every role's permissions are made of: subjects, stream and bucket names of one installation. */
type Names = ReturnType<typeof names>;

function names(options: NatsAuthOptions) {
  const s = subjects(options.prefix);
  const { intake, mailbox, acks, dead } = s.streams;
  const channels = channelStreams(s, options.channelRetention);
  const buckets = {
    cursors: bucket(s.buckets.cursors),
    presence: bucket(s.buckets.presence),
    leases: bucket(s.buckets.leases),
    routers: bucket(s.buckets.routers),
  };
  return {
    s,
    intake,
    mailbox,
    acks,
    dead,
    channels,
    buckets,
    inbox: (identity: NatsIdentity) => `${s.inboxPrefix(identity)}.>`,
    // Every JetStream manager checks the API first with an account info request (usage totals only).
    jsInfo: `${API}.INFO`,
  };
}

function connector(n: Names): NatsPermissions {
  const { s } = n;
  return {
    publish: [
      n.jsInfo,
      stream(n.mailbox).info,
      stream(n.acks).info,
      s.ack("*"),
      s.replay,
      s.channelReplay,
      s.presenceReport("*"),
    ],
    subscribe: [
      s.live("*"),
      s.channelLive("*", "*"),
      s.controlDisconnect,
      s.presenceSync,
      n.inbox("connector"),
    ],
    // Answers `control.disconnect` requests with `{closed: n}`.
    allowResponses: true,
  };
}

function router(n: Names): NatsPermissions {
  const { s, buckets } = n;
  return {
    publish: [
      n.jsInfo,
      ...[n.intake, n.mailbox, n.dead].map((name) => stream(name).info),
      // Its consumers on INTAKE: `router` and one per partition (`router-p<k>`, as many as INTAKE has).
      ...stream(n.intake).consumer("*"),
      // A consumer with `filter_subjects` is created through the durable API (as @nats-io/jetstream does).
      `${API}.CONSUMER.DURABLE.CREATE.${n.intake}.*`,
      // The HTTP publish API publishes what backends send, to the same subjects they would.
      s.sendAll,
      s.mailbox("*"),
      s.channel("*", "*"),
      s.dead("*"),
      // `expired` receipts for send.users copies a full mailbox refused (`mailbox_full`).
      s.receipt("*"),
      ...buckets.leases.open,
      // The leases bucket is keyed by service name: `router` and `router.p<k>` (one lease per partition).
      buckets.leases.write(s.leaseKeys.router),
      buckets.leases.read(s.leaseKeys.router),
      buckets.leases.write(`${s.leaseKeys.router}.>`),
      buckets.leases.read(`${s.leaseKeys.router}.>`),
      // Which router replicas are alive: each renews its own key and watches the others'.
      ...buckets.routers.open,
      buckets.routers.write(">"),
      ...orderedConsumer(buckets.routers.stream),
    ],
    subscribe: [n.inbox("router")],
    allowResponses: false,
  };
}

function presence(n: Names): NatsPermissions {
  const { s, buckets } = n;
  return {
    publish: [
      n.jsInfo,
      s.presenceEvent("*"),
      s.presenceSync,
      s.controlDisconnect,
      ...buckets.presence.open,
      buckets.presence.write("*"),
      buckets.presence.read("*"),
    ],
    subscribe: [s.presenceReportAll, s.presenceEventAll, s.presenceGet, s.presenceCount, n.inbox("presence")],
    allowResponses: true,
  };
}

function persistence(n: Names): NatsPermissions {
  const { s } = n;
  const cursors = n.buckets.cursors;
  const owned = [n.intake, n.mailbox, n.acks, n.dead, ...n.channels];
  return {
    publish: [
      n.jsInfo,
      ...owned.flatMap((name) => [stream(name).info, stream(name).create, stream(name).update]),
      ...stream(n.acks).consumer(s.consumers.persistence),
      // Reads of mailboxes and channels for replay, and the short-lived consumers that count a backlog.
      stream(n.mailbox).directGet,
      `${API}.CONSUMER.CREATE.${n.mailbox}`,
      `${API}.CONSUMER.DELETE.${n.mailbox}.*`,
      ...n.channels.flatMap((name) => [stream(name).directGet, stream(name).directGetLast]),
      ...cursors.open,
      cursors.write(">"),
      cursors.read(">"),
      // Listing a user's devices: an ordered consumer on the cursor bucket, with flow control.
      `${API}.CONSUMER.CREATE.${cursors.stream}.>`,
      `${API}.CONSUMER.INFO.${cursors.stream}.*`,
      `${API}.CONSUMER.DELETE.${cursors.stream}.*`,
      `$JS.FC.${cursors.stream}.>`,
      s.receipt("*"),
      // Mailbox entries found invalid when read are dead-lettered by persistence (router: at intake).
      s.dead("*"),
    ],
    subscribe: [s.replay, s.cursorGet, s.channelReplay, n.inbox("persistence")],
    allowResponses: true,
  };
}

function publisher(n: Names): NatsPermissions {
  const { s } = n;
  return {
    publish: [s.sendAll, s.cursorGet, s.presenceGet, s.presenceCount, n.jsInfo],
    subscribe: [s.receipt("*"), s.presenceEventAll, n.inbox("publisher")],
    allowResponses: false,
  };
}

/** What an ordered consumer on `name` needs: create, pull, flow control, delete. */
function orderedConsumer(name: string): string[] {
  return [
    `${API}.CONSUMER.CREATE.${name}`,
    `${API}.CONSUMER.CREATE.${name}.>`,
    `${API}.CONSUMER.MSG.NEXT.${name}.*`,
    `${API}.CONSUMER.DELETE.${name}.*`,
    `$JS.FC.${name}.>`,
  ];
}

/**
 * The `herald` CLI's identity: a publisher that may also close connections, read streams, consumers, live copies
 * and dead letters, tail through ordered consumers, replay and remove dead letters, and erase a user (purge the
 * mailbox, delete cursors). It never writes into a mailbox, an ack stream or a service's consumer.
 */
function operator(n: Names): NatsPermissions {
  const { s, buckets } = n;
  const all = [
    n.intake,
    n.mailbox,
    n.acks,
    n.dead,
    ...n.channels,
    ...Object.values(buckets).map((b) => b.stream),
  ];
  return {
    publish: [
      ...publisher(n).publish,
      s.controlDisconnect,
      `${API}.STREAM.NAMES`,
      `${API}.STREAM.LIST`,
      ...all.map((name) => stream(name).info),
      ...all.flatMap((name) => [`${API}.CONSUMER.INFO.${name}.*`, `${API}.CONSUMER.NAMES.${name}`]),
      stream(n.dead).msgGet,
      stream(n.dead).directGet,
      // `herald dead replay` removes what it replayed.
      `${API}.STREAM.MSG.DELETE.${n.dead}`,
      // `herald tail`: ordered consumers on a mailbox or channel stream (deleted when the tail ends).
      ...[n.mailbox, ...n.channels].flatMap(orderedConsumer),
      // `herald erase`: the user's mailbox purged and device cursors deleted (`docs/security.md`).
      `${API}.STREAM.PURGE.${n.mailbox}`,
      // Opening an existing bucket reads its stream info; creating one is persistence's.
      ...buckets.cursors.open.filter((subject) => !subject.includes(".STREAM.CREATE.")),
      buckets.cursors.write(">"),
      ...orderedConsumer(buckets.cursors.stream),
    ],
    // Watching what is delivered (live copies) is observation, never a write.
    subscribe: [
      s.receipt("*"),
      s.presenceEventAll,
      s.deadAll,
      s.live("*"),
      s.channelLive("*", "*"),
      n.inbox("operator"),
    ],
    allowResponses: false,
  };
}

/**
 * Every identity's permissions for one prefix, derived from `subjects(prefix)` and from what each service
 * publishes, subscribes to, requests and consumes (docs/security.md).
 */
export function natsPermissions(options: NatsAuthOptions = {}): Record<NatsIdentity, NatsPermissions> {
  const n = names(options);
  return {
    connector: connector(n),
    router: router(n),
    presence: presence(n),
    persistence: persistence(n),
    publisher: publisher(n),
    operator: operator(n),
  };
}

function quote(value: string): string {
  if (/["\\\n]/.test(value)) throw new NatsAuthConfigError(`cannot quote ${JSON.stringify(value)}`);
  return `"${value}"`;
}

function passwordText(ref: PasswordRef): string {
  if ("value" in ref) return quote(ref.value);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.env)) {
    throw new NatsAuthConfigError(`'${ref.env}' is not an environment variable name`);
  }
  // Unquoted `$NAME` is resolved by nats-server from its environment.
  return `$${ref.env}`;
}

const list = (items: string[], indent: string) =>
  `[\n${items.map((item) => `${indent}  ${quote(item)}`).join(",\n")}\n${indent}]`;

/**
 * The `accounts { }` block of nats-server's config: one account with JetStream and Herald's six users, each
 * with exactly its permissions. Anything without these credentials cannot connect.
 *
 * @example
 * writeFileSync("auth.conf", natsAccountsConfig({ prefix: "herald" })); // passwords from $HERALD_NATS_*_PASSWORD
 */
export function natsAccountsConfig(options: NatsAuthOptions = {}): string {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const account = options.account ?? "HERALD";
  if (!/^[A-Za-z0-9_-]+$/.test(account)) throw new NatsAuthConfigError(`bad account name '${account}'`);
  const password = options.password ?? ((identity) => ({ env: passwordEnv(identity) }));
  const permissions = natsPermissions(options);
  const users = NATS_IDENTITIES.map((identity) => {
    const p = permissions[identity];
    const i = "        ";
    return [
      "      {",
      `${i}user: ${quote(natsUser(identity, prefix))}`,
      `${i}password: ${passwordText(password(identity))}`,
      `${i}permissions: {`,
      `${i}  publish: { allow: ${list(p.publish, `${i}  `)} }`,
      `${i}  subscribe: { allow: ${list(p.subscribe, `${i}  `)} }`,
      ...(p.allowResponses ? [`${i}  allow_responses: true`] : []),
      `${i}}`,
      "      }",
    ].join("\n");
  });
  const retention = options.channelRetention ?? "(default)";
  return [
    `# Herald's NATS identities for HERALD_PREFIX=${prefix}, HERALD_CHANNEL_RETENTION=${retention}.`,
    "# Generated by `node scripts/nats-auth.mjs` from packages/protocol/src/nats-auth.ts; do not edit.",
    "accounts {",
    `  ${account} {`,
    "    jetstream: enabled",
    "    users: [",
    users.join(",\n"),
    "    ]",
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * The same account as a value for the official NATS Helm chart (`config.merge.accounts`); passwords are
 * written `<< $VAR >>`, which that chart emits unquoted so nats-server reads them from its environment.
 */
export function natsChartAccounts(options: NatsAuthOptions = {}): Record<string, unknown> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const permissions = natsPermissions(options);
  return {
    [options.account ?? "HERALD"]: {
      jetstream: "enabled",
      users: NATS_IDENTITIES.map((identity) => {
        const p = permissions[identity];
        return {
          user: natsUser(identity, prefix),
          password: `<< $${passwordEnv(identity)} >>`,
          permissions: {
            publish: { allow: p.publish },
            subscribe: { allow: p.subscribe },
            ...(p.allowResponses ? { allow_responses: true } : {}),
          },
        };
      }),
    },
  };
}

/** The permissions as a Markdown table (docs/security.md holds it for the default prefix; a test compares). */
export function natsPermissionsTable(options: NatsAuthOptions = {}): string {
  const permissions = natsPermissions(options);
  const code = (items: string[]) => items.map((item) => `\`${item}\``).join(", ");
  const rows = NATS_IDENTITIES.map((identity) => {
    const p = permissions[identity];
    const user = natsUser(identity, options.prefix);
    return `| \`${user}\` | ${code(p.publish)} | ${code(p.subscribe)} | ${p.allowResponses ? "yes" : "no"} |`;
  });
  return [
    "| user | may publish (and request) | may subscribe | may answer requests |",
    "| --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
