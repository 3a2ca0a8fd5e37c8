import type { Logger } from "@herald/service-kit";

/** An ack or nak on a closed connection throws; the message then simply comes back after `ack_wait`. */
export function settle(logger: Logger, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    logger.warn({ err }, "could not ack or nak an intake message");
  }
}
