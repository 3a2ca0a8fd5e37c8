import type { Subjects } from "@herald/protocol";
import { DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";

/**
 * INTAKE, MBOX and DEAD as the release before issue 14 created them: INTAKE captured every `<p>.send.>`
 * (single-user sends included) for the router, which wrote `{"id","data","ts"}` to MBOX (`<p>.mbox.*` only).
 * Router tests run on it so single-user sends left in INTAKE stay covered, and the upgrade test starts from it
 * with messages in both (architecture, "Upgrading").
 */
export async function createEarlierLayout(jsm: JetStreamManager, s: Subjects): Promise<void> {
  const dedup = nanos(2 * 60_000);
  await jsm.streams.add({
    name: s.streams.intake,
    subjects: [s.sendAll],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: dedup,
  });
  await jsm.streams.add({
    name: s.streams.mailbox,
    subjects: [`${s.mailboxPrefix}*`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: 10_000,
    duplicate_window: dedup,
    allow_direct: true,
    republish: { src: s.mailboxAll, dest: s.liveAll },
  });
  await jsm.streams.add({
    name: s.streams.dead,
    subjects: [s.deadAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: dedup,
  });
}
