import { type ChannelRetention, DeadReason, Header, payloadBudget, type Subjects } from "@herald/protocol";
import { maxPayload, type Nats, utf8 } from "@herald/service-kit";
import type { JsMsg } from "@nats-io/jetstream";
import type { Config } from "./config.js";
import { type Decision, decide } from "./intake.js";

/** An intake message ready to write: dead-lettered with its reason, or routed with its mailbox body. */
export type Prepared =
  | Extract<Decision, { kind: "dead" }>
  | (Extract<Decision, { kind: "route" }> & { id: string; body: Uint8Array });

export type PrepareOptions = {
  s: Subjects;
  maxMessageBytes: number;
  channelRetention: readonly ChannelRetention[];
  /** The most a stored entry may be: what one NATS message carries here, with room to spare. */
  budget: () => number;
};

/** The limits of the router's configuration and of the server it is connected to. */
export function prepareOptions(s: Subjects, config: Config, nats: Nats): PrepareOptions {
  return {
    s,
    maxMessageBytes: config.HERALD_MAX_MESSAGE_BYTES,
    channelRetention: config.HERALD_CHANNEL_RETENTION,
    budget: () => payloadBudget(maxPayload(nats.nc)),
  };
}

/**
 * What one intake message becomes, its mailbox body encoded. `decide` and the encoding touch no NATS, so a
 * throw here is about the message's content and would recur on every retry: it is dead-lettered instead.
 */
export function prepare(
  options: PrepareOptions,
  msg: JsMsg,
  fallbackId: string,
  timestampMs: number,
): Prepared {
  try {
    const msgId = msg.headers?.get(Header.MsgId) || undefined;
    const decision = decide(
      options.s,
      { subject: msg.subject, payload: msg.data, msgId },
      options.maxMessageBytes,
      options.channelRetention,
    );
    if (decision.kind === "dead") return decision;
    const id = decision.id ?? fallbackId;
    // A mailbox entry is a send body (`readMailboxEntry` reads it; `ts` is the mailbox's store time); a
    // channel entry keeps the intake time.
    const toUsers = decision.target === "user" || decision.target === "users";
    const body = utf8(
      JSON.stringify(toUsers ? { id, data: decision.data } : { id, data: decision.data, ts: timestampMs }),
    );
    // A stored entry must fit one NATS message with room to spare, or it could never be replayed.
    const budget = options.budget();
    if (body.length > budget) {
      return {
        kind: "dead",
        reason: DeadReason.TooLarge,
        message: `as stored it would be ${body.length} bytes, more than the ${budget} a NATS message carries here`,
      };
    }
    return { ...decision, id, body };
  } catch (err) {
    return {
      kind: "dead",
      reason: DeadReason.InvalidMessage,
      message: `could not be routed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
