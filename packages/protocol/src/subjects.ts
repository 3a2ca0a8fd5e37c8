import { InvalidPrefixError } from "./errors.js";

const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Default subject prefix (`HERALD_PREFIX`). */
export const DEFAULT_PREFIX = "herald";

/**
 * Every NATS subject, stream and bucket name Herald uses, derived from one prefix. No other module spells a
 * subject by hand.
 *
 * @example
 * const s = subjects("herald");
 * s.sendUser("alice") // "herald.send.user.alice"
 */
export function subjects(prefix: string = DEFAULT_PREFIX) {
  if (!PREFIX.test(prefix)) {
    throw new InvalidPrefixError(`HERALD_PREFIX '${prefix}' must be dot-separated tokens of [A-Za-z0-9_-]`);
  }
  // Stream and bucket names may not contain dots.
  const name = prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase();
  return {
    prefix,
    ...publicSubjects(prefix),
    ...internalSubjects(prefix),
    ...jetStreamNames(name),
  } as const;
}

/** What backends and operators see: the contract's subjects (sections 2 and 4). */
function publicSubjects(p: string) {
  return {
    // What backends publish (contract section 2).
    sendAll: `${p}.send.>`,
    sendUser: (token: string) => `${p}.send.user.${token}`,
    sendUsers: `${p}.send.users`,
    /**
     * `send.users` with a partition key: messages with the same key keep their order; different keys are
     * routed in parallel (by different router replicas), so their relative order is not kept.
     */
    sendUsersKeyed: (key: string) => `${p}.send.users.${key}`,
    sendChannel: (channel: string) => `${p}.send.channel.${channel}`,
    sendBroadcast: `${p}.send.broadcast`,
    sendUserPrefix: `${p}.send.user.`,
    /** Captured by the mailbox stream itself: one write per message, no router hop. */
    sendUserAll: `${p}.send.user.*`,
    /**
     * What the intake stream captures: everything the router still handles. Not `send.user.*`, which the
     * mailbox stream captures (two streams may not share a subject); `send.user.*.>` is a dotted id, dead-lettered.
     */
    intakeSubjects: [
      `${p}.send.users`,
      `${p}.send.users.*`,
      `${p}.send.channel.>`,
      `${p}.send.broadcast`,
      `${p}.send.user.*.>`,
    ],

    // Rejected input, receipts, presence events and request/reply APIs (contract section 4).
    dead: (reason: string) => `${p}.dead.${reason}`,
    deadAll: `${p}.dead.>`,
    receipt: (token: string) => `${p}.receipt.${token}`,
    presenceEvent: (token: string) => `${p}.presence.event.${token}`,
    presenceEventAll: `${p}.presence.event.>`,
    cursorGet: `${p}.api.cursor.get`,
    /** Close connections: `disconnectCommandSchema` (user, device or connection; code 4010/4011/4012). */
    controlDisconnect: `${p}.control.disconnect`,
    presenceGet: `${p}.api.presence.get`,
    /** Request: `{}` → `{users, connections, connectors: {[connectorId]: {connections}}}`. */
    presenceCount: `${p}.api.presence.count`,

    /**
     * Where replies to one NATS identity go (`connector`, `publisher`, …): its clients set this `inboxPrefix`,
     * and only that identity may subscribe below it (`nats-auth.ts`).
     */
    inboxPrefix: (identity: string) => `_INBOX.${p}.${identity}`,
  } as const;
}

/** Between Herald's services only. */
function internalSubjects(p: string) {
  return {
    mailbox: (token: string) => `${p}.mbox.${token}`,
    mailboxAll: `${p}.mbox.>`,
    mailboxPrefix: `${p}.mbox.`,
    /** The mailbox stream's subject transform: a publish to `send.user.<token>` is stored as `mbox.<token>`. */
    sendUserToMailbox: { src: `${p}.send.user.*`, dest: `${p}.mbox.{{wildcard(1)}}` },
    ...routeSubjects(p),
    live: (token: string) => `${p}.live.${token}`,
    liveAll: `${p}.live.>`,
    ack: (token: string) => `${p}.ack.${token}`,
    ackAll: `${p}.ack.>`,
    replay: `${p}.api.replay`,
    presenceReport: (connectorId: string) => `${p}.presence.report.${connectorId}`,
    presenceReportAll: `${p}.presence.report.*`,
    /** Presence → connectors (core, no reply): "send me a full heartbeat now" (`presenceSyncSchema`). */
    presenceSync: `${p}.presence.sync`,

    // Channels: one stream per retention group, one subject per channel (`channels.ts`).
    channel: (group: string, channel: string) => `${p}.chan.${group}.${channel}`,
    channelGroupAll: (group: string) => `${p}.chan.${group}.*`,
    channelLive: (group: string, channel: string) => `${p}.clive.${group}.${channel}`,
    channelReplay: `${p}.api.channel.replay`,
  } as const;
}

/**
 * The intake's partitions: the intake stream stores `send.<kind>.<name>` (a channel, or a `send.users` key) as
 * `route.<k>.<kind>.<name>`, k a hash of the name (nats-server's `partition()` subject mapping), so each
 * partition has its own consumer and one router replica routes it at a time. What has no name to hash
 * (`send.users`, `send.broadcast`) keeps its subject and goes through the unpartitioned consumer.
 */
function routeSubjects(p: string) {
  const routePrefix = `${p}.route.`;
  const partitionedSource = `${p}.send.*.*`;
  return {
    /** What the intake's transform partitions: `send.<kind>.<name>` (a channel, or a keyed `send.users`). */
    partitionedSource,
    /** The intake stream's subject transform for `count` partitions (at least 1). */
    intakeTransform: (count: number) => ({
      src: partitionedSource,
      dest: `${p}.route.{{partition(${count},2)}}.{{wildcard(1)}}.{{wildcard(2)}}`,
    }),
    /** What one partition's consumer reads (`*`: every partition). */
    routePartition: (k: number | "*") => `${p}.route.${k}.>`,
    /** The subject a publisher sent an intake message to: `route.<k>.<rest>` → `send.<rest>`. */
    sentSubject: (stored: string): string => {
      if (!stored.startsWith(routePrefix)) return stored;
      const dot = stored.indexOf(".", routePrefix.length);
      return dot < 0 ? stored : `${p}.send.${stored.slice(dot + 1)}`;
    },
  } as const;
}

/** What a `send.users` partition key may be, as error messages and API documents say it. */
export const PARTITION_KEY_RULE = "1 to 128 characters of [A-Za-z0-9_-]";

/** A `send.users` partition key: one subject token of letters, digits, `_` and `-`, 1 to 128 characters. */
export function isPartitionKey(key: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(key);
}

/** The partition count of an intake stream's subject transform; 0 when it has none (not partitioned). */
export function intakePartitionCount(transform: { dest?: string } | undefined): number {
  const match = /\{\{\s*partition\(\s*(\d+)\s*,/i.exec(transform?.dest ?? "");
  return match ? Number(match[1]) : 0;
}

/** Stream, consumer and bucket names (`name`: the prefix without dots, upper-cased). */
function jetStreamNames(name: string) {
  const cursorsBucket = `${name}_cursors`;
  return {
    streams: {
      intake: `${name}_INTAKE`,
      mailbox: `${name}_MBOX`,
      acks: `${name}_ACKS`,
      dead: `${name}_DEAD`,
      channel: (group: string) => `${name}_CHAN_${group}`,
    },
    consumers: {
      router: "router",
      /** The consumer of intake partition `k` (`routePartition(k)`). */
      routerPartition: (k: number) => `router-p${k}`,
      persistence: "persistence",
    },
    /** Keys of the leases bucket: one per router lane (the unpartitioned one, then each partition's). */
    leaseKeys: {
      router: "router",
      routerPartition: (k: number) => `router.p${k}`,
    },
    /** The subject a cursor KV key is written on (a KV put is a publish to `$KV.<bucket>.<key>`). */
    cursorKeySubject: (key: string) => `$KV.${cursorsBucket}.${key}`,
    buckets: {
      cursors: cursorsBucket,
      /** Presence's own lease bucket (created by presence on start): which replica emits events. */
      presence: `${name}_presence`,
      /** Leader leases of services that run one active replica at a time (key = service name). */
      leases: `${name}_leases`,
      /** Router replicas alive now, each renewing its own key: how they share the intake's partitions. */
      routers: `${name}_routers`,
    },
  } as const;
}

export type Subjects = ReturnType<typeof subjects>;
