import { BROADCAST_RETENTION, intakePartitionCount, type Subjects } from "@herald/protocol";
import { isStreamNameInUse, isStreamNotFound } from "@herald/service-kit";
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Config } from "./config.js";

type Settings = Pick<
  Config,
  | "HERALD_RETENTION"
  | "HERALD_MAX_BACKLOG"
  | "HERALD_DEDUP_WINDOW"
  | "HERALD_REPLICAS"
  | "HERALD_CHANNEL_RETENTION"
  | "HERALD_INTAKE_MAX_BYTES"
  | "HERALD_MAILBOX_MAX_BYTES"
  | "HERALD_ACKS_MAX_BYTES"
  | "HERALD_CHANNEL_MAX_BYTES"
  | "HERALD_DEAD_MAX_BYTES"
  | "HERALD_MAX_MESSAGE_BYTES"
  | "HERALD_ROUTE_PARTITIONS"
>;

const DAY = 86_400_000;

/** The stream configurations Herald needs; persistence owns them. */
export type WantedStream = Partial<StreamConfig> & { name: string };

/**
 * Every stream has a byte limit. Those holding accepted messages refuse new writes when full (discard new): the
 * backend's publish fails with JetStream's "maximum bytes exceeded" and what is stored is still delivered; a
 * router write that is refused is retried. A mailbox also refuses a user's message past `HERALD_MAX_BACKLOG`;
 * channel per-subject limits and `max_age` drop the oldest (devices that missed some are told: `gap-check.ts`).
 */
export function streamConfigs(s: Subjects, settings: Settings): WantedStream[] {
  const common = { storage: StorageType.File, num_replicas: settings.HERALD_REPLICAS };
  return [
    {
      ...common,
      name: s.streams.intake,
      subjects: [...s.intakeSubjects],
      // Channels and keyed `send.users` stored by partition, each routed by one replica at a time.
      subject_transform: s.intakeTransform(settings.HERALD_ROUTE_PARTITIONS),
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      max_bytes: settings.HERALD_INTAKE_MAX_BYTES,
      duplicate_window: nanos(settings.HERALD_DEDUP_WINDOW),
      max_age: nanos(settings.HERALD_RETENTION),
    },
    {
      ...common,
      name: s.streams.mailbox,
      // A backend's single-user publish is stored here as it is sent (one write, order by arrival); the
      // router writes `send.users` fan-out to `mbox.*` directly. The transform leaves `mbox.*` as it is.
      subjects: [s.sendUserAll, `${s.mailboxPrefix}*`],
      subject_transform: s.sendUserToMailbox,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      max_bytes: settings.HERALD_MAILBOX_MAX_BYTES,
      max_age: nanos(settings.HERALD_RETENTION),
      // Refused at publish, so the backend learns at once (no router checks single-user sends any more).
      max_msg_size: settings.HERALD_MAX_MESSAGE_BYTES,
      max_msgs_per_subject: settings.HERALD_MAX_BACKLOG,
      // A user's mailbox at the cap refuses the next message rather than dropping its oldest unseen: a backend
      // gets JetStream's "maximum messages per subject exceeded", the router dead-letters it (`mailbox-full.ts`).
      discard_new_per_subject: true,
      duplicate_window: nanos(settings.HERALD_DEDUP_WINDOW),
      allow_direct: true,
      republish: { src: s.mailboxAll, dest: s.liveAll },
    },
    {
      ...common,
      name: s.streams.acks,
      subjects: [s.ackAll],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      max_bytes: settings.HERALD_ACKS_MAX_BYTES,
      max_age: nanos(settings.HERALD_RETENTION),
    },
    ...[...settings.HERALD_CHANNEL_RETENTION, BROADCAST_RETENTION].map((group) => ({
      ...common,
      name: s.streams.channel(group.id),
      subjects: [s.channelGroupAll(group.id)],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      max_bytes: settings.HERALD_CHANNEL_MAX_BYTES,
      max_age: nanos(group.maxAgeMs),
      max_msgs_per_subject: group.maxMessages,
      duplicate_window: nanos(Math.min(settings.HERALD_DEDUP_WINDOW, group.maxAgeMs)),
      allow_direct: true,
      republish: { src: `${s.prefix}.chan.${group.id}.>`, dest: `${s.prefix}.clive.${group.id}.>` },
    })),
    {
      ...common,
      name: s.streams.dead,
      subjects: [s.deadAll],
      retention: RetentionPolicy.Limits,
      max_age: nanos(7 * DAY),
      max_bytes: settings.HERALD_DEAD_MAX_BYTES,
      discard: DiscardPolicy.Old,
    },
  ];
}

/**
 * Creates each stream, or updates it to the wanted config. Safe when several replicas start at once: whoever
 * loses the create race updates instead, and an update to the same config is a no-op. `first` goes before the
 * rest: an install of the earlier layout has INTAKE capturing `send.user.*`, which must be released before
 * MBOX can take it (two streams may not share a subject). Messages INTAKE holds stay there for the router.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  configs: WantedStream[],
  first?: string,
): Promise<void> {
  const before = configs.filter((c) => c.name === first);
  await ensureAll(jsm, before);
  await ensureAll(
    jsm,
    configs.filter((c) => c.name !== first),
  );
}

async function ensureAll(jsm: JetStreamManager, configs: WantedStream[]): Promise<void> {
  await Promise.all(configs.map((config) => ensureStream(jsm, config)));
}

/**
 * The partition count to apply: the wanted one, unless the intake already stores another and still holds
 * partitioned messages. Re-partitioning those would send a key's next messages to another partition, which
 * a second router could route before the earlier ones; so the count changes once they are routed.
 */
export async function settledPartitionCount(
  jsm: JetStreamManager,
  s: Subjects,
  wanted: number,
): Promise<{ count: number; held?: { current: number; pending: number } }> {
  const info = await jsm.streams
    .info(s.streams.intake, { subjects_filter: s.routePartition("*") })
    .catch((err: unknown) => {
      if (isStreamNotFound(err)) return undefined;
      throw err;
    });
  const current = intakePartitionCount(info?.config.subject_transform);
  if (!info || current === 0 || current === wanted) return { count: wanted };
  const pending = Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  return pending === 0 ? { count: wanted } : { count: current, held: { current, pending } };
}

async function ensureStream(jsm: JetStreamManager, config: WantedStream): Promise<void> {
  const name = config.name;
  const exists = await jsm.streams.info(name).then(
    () => true,
    (err: unknown) => {
      if (isStreamNotFound(err)) return false;
      throw err;
    },
  );
  if (!exists) {
    try {
      await jsm.streams.add(config);
      return;
    } catch (err) {
      if (!isStreamNameInUse(err)) throw err;
    }
  }
  await jsm.streams.update(name, config);
}
