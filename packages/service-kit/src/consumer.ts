import { AckPolicy, type ConsumerInfo, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { isConsumerNotFound } from "./js-errors.js";

export type ConsumerSettings = {
  stream: string;
  name: string;
  ackWaitMs: number;
  maxAckPending: number;
  /** What it reads (default: the whole stream); updated when it changed. Always sent as `filter_subjects`. */
  filterSubjects?: string[];
};

/**
 * Creates a durable pull consumer that every replica of a service shares, or binds to it when it exists;
 * updates `ack_wait`, `max_ack_pending` and the filter when they changed. Safe to run from every replica at once. Only
 * "consumer not found" leads to a create: any other error (the stream is missing, no permission) is thrown.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  settings: ConsumerSettings,
): Promise<ConsumerInfo> {
  const { stream, name } = settings;
  const tunables = {
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
    ...(settings.filterSubjects ? { filter_subjects: settings.filterSubjects } : {}),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.consumers.info(stream, name);
      const { ack_wait, max_ack_pending } = info.config;
      if (
        ack_wait === tunables.ack_wait &&
        max_ack_pending === tunables.max_ack_pending &&
        sameFilter(info.config, settings.filterSubjects)
      ) {
        return info;
      }
      return await jsm.consumers.update(stream, name, tunables);
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
    }
    try {
      return await jsm.consumers.add(stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_deliver: -1,
        ...tunables,
      });
    } catch (err) {
      // Another replica may have created it with other settings in the meantime: look again, once.
      if (attempt > 0) throw err;
    }
  }
}

function sameFilter(config: ConsumerInfo["config"], wanted: string[] | undefined): boolean {
  if (!wanted) return true;
  const current = config.filter_subjects ?? (config.filter_subject ? [config.filter_subject] : []);
  return current.length === wanted.length && current.every((subject, i) => subject === wanted[i]);
}
