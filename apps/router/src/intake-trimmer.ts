import type { Subjects } from "@herald/protocol";
import type { Logger } from "@herald/service-kit";
import type { JetStreamManager } from "@nats-io/jetstream";

/**
 * Removes routed messages from the intake stream. The stream keeps messages by limits rather than as a work
 * queue: on nats-server 2.9's file store, deleting each acked message costs about ten times what storing it
 * does, while one purge up to the consumer's ack floor removes whole blocks at once. Only messages the
 * router consumer has acked (everything at or below its ack floor) are purged.
 */
export class IntakeTrimmer {
  private purgedBelow = 0;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly s: Subjects,
    private readonly logger: Logger,
  ) {}

  /** One round; returns how many messages were purged. */
  async trim(): Promise<number> {
    const info = await this.jsm.consumers.info(this.s.streams.intake, this.s.consumers.router);
    const below = info.ack_floor.stream_seq + 1;
    if (below <= this.purgedBelow + 1) return 0;
    const result = await this.jsm.streams.purge(this.s.streams.intake, { seq: below });
    this.purgedBelow = below - 1;
    if (result.purged > 0)
      this.logger.debug({ purged: result.purged, below }, "trimmed routed intake messages");
    return result.purged;
  }
}
