import { intakePartitionCount, type Subjects } from "@herald/protocol";
import type { JetStreamManager } from "@nats-io/jetstream";

/**
 * One ordered share of the intake: a durable consumer, the lease that lets one replica route it at a time, and
 * what it reads. The unpartitioned lane reads what has no name to partition by (`send.users`, `send.broadcast`,
 * dotted user ids, and whatever an earlier release stored unpartitioned); each partition lane reads
 * `route.<k>.>` (channels and keyed `send.users`, stored there by the intake's subject transform).
 */
export type Lane = {
  consumer: string;
  leaseKey: string;
  filterSubjects: string[];
  /** Undefined for the unpartitioned lane. */
  partition: number | undefined;
};

/** Every lane of an intake with `partitions` partitions (0: not partitioned, one lane). */
export function intakeLanes(s: Subjects, partitions: number): Lane[] {
  const unpartitioned: Lane = {
    consumer: s.consumers.router,
    leaseKey: s.leaseKeys.router,
    // Everything stored as published (`send.>`, as an earlier release's intake also held `send.user.*`);
    // partitioned messages are stored under `route.>`.
    filterSubjects: [s.sendAll],
    partition: undefined,
  };
  return [
    unpartitioned,
    ...Array.from({ length: partitions }, (_, k) => ({
      consumer: s.consumers.routerPartition(k),
      leaseKey: s.leaseKeys.routerPartition(k),
      filterSubjects: [s.routePartition(k)],
      partition: k,
    })),
  ];
}

/** The partition count persistence gave the intake stream (its subject transform). */
export async function intakePartitions(jsm: JetStreamManager, s: Subjects): Promise<number> {
  const info = await jsm.streams.info(s.streams.intake);
  return intakePartitionCount(info.config.subject_transform);
}

/**
 * Intake messages a partition lane must not overtake: what the transform partitions now but an earlier release
 * (or a stream without the transform) stored as published. The unpartitioned lane routes them; a partition
 * lane starts once none is left, so a channel's earlier messages are stored before its later ones.
 */
export async function unpartitionedNamed(jsm: JetStreamManager, s: Subjects): Promise<number> {
  const info = await jsm.streams.info(s.streams.intake, { subjects_filter: s.partitionedSource });
  return Object.values(info.state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
}
