import {
  BROADCAST_CHANNEL,
  BROADCAST_TOKEN,
  type ChannelRetention,
  channelProblem,
  DeadReason,
  headerSafe,
  messageIdSchema,
  quote,
  readBody,
  retentionFor,
  type Subjects,
  sendBodySchema,
  sendUsersBodySchema,
  userIdFromToken,
  userIdProblem,
  userToken,
} from "@herald/protocol";

/** What to do with one intake message. */
export type Decision =
  | {
      kind: "route";
      target: "user" | "users" | "channel" | "broadcast";
      id: string | undefined;
      /** User tokens (user targets only). */
      tokens: string[];
      /** Where to write, and what makes each write's dedup id unique for one message id. */
      destinations: { subject: string; key: string }[];
      data: unknown;
    }
  | { kind: "dead"; reason: DeadReason; message: string };

/** Everything `decide` needs from an intake message; no NATS types, so it is testable on its own. */
export type IntakeInput = {
  subject: string;
  payload: Uint8Array;
  /** The `Nats-Msg-Id` header, if any. */
  msgId: string | undefined;
};

type Target =
  | { kind: "user"; token: string }
  | { kind: "users" }
  | { kind: "channel"; channel: string }
  | { kind: "broadcast" }
  | { kind: "dead"; reason: DeadReason; message: string };

const dead = (reason: DeadReason, message: string): Decision => ({ kind: "dead", reason, message });

// Moved to @herald/protocol (the mailbox reader checks single-user sends the same way); kept importable here.
export { headerSafe, quote };

function target(s: Subjects, stored: string): Target {
  // A partitioned intake stores `send.<kind>.<name>` as `route.<k>.<kind>.<name>`.
  const subject = s.sentSubject(stored);
  const rest = subject.startsWith(`${s.prefix}.send.`)
    ? subject.slice(s.prefix.length + ".send.".length)
    : "";
  const [kind, ...tail] = rest.split(".");
  // `send.users.<key>`: the key only chose the partition.
  if (kind === "users" && tail.length <= 1) return { kind: "users" };
  if (kind === "user" && tail.length === 1) {
    const token = tail[0] ?? "";
    try {
      userIdFromToken(token);
      return { kind: "user", token };
    } catch (err) {
      return { kind: "dead", reason: DeadReason.InvalidUserId, message: (err as Error).message };
    }
  }
  if (kind === "user" && tail.length > 1) {
    // A backend that put a dotted user id straight into the subject: name the id, not the subject.
    return {
      kind: "dead",
      reason: DeadReason.InvalidUserId,
      message: `user id ${quote(tail.join("."))} must not contain '.'; encode it with userToken()`,
    };
  }
  if (kind === "channel" && tail.length === 1) {
    const channel = tail[0]!;
    const problem = channelProblem(channel);
    return problem
      ? { kind: "dead", reason: DeadReason.InvalidChannel, message: `channel ${quote(channel)}: ${problem}` }
      : { kind: "channel", channel };
  }
  if (kind === "channel" && tail.length > 1) {
    return {
      kind: "dead",
      reason: DeadReason.InvalidChannel,
      message: `channel ${quote(tail.join("."))} must be one subject token (no '.')`,
    };
  }
  if (kind === "broadcast" && tail.length === 0) return { kind: "broadcast" };
  return {
    kind: "dead",
    reason: DeadReason.UnknownSubject,
    message: `no route for subject ${quote(subject)}`,
  };
}

/**
 * Validates one intake message and says where it goes. Checks run cheapest first: size, subject, nesting depth,
 * JSON, shape, user ids.
 *
 * @example
 * decide(subjects("herald"), { subject: "herald.send.user.alice", payload, msgId: undefined }, 65536)
 * // { kind: "route", target: "user", tokens: ["alice"], id: undefined, data: ... }
 */
export function decide(
  s: Subjects,
  input: IntakeInput,
  maxBytes: number,
  groups: readonly ChannelRetention[] = [],
): Decision {
  if (input.payload.length > maxBytes) {
    return dead(DeadReason.TooLarge, `payload is ${input.payload.length} bytes, the limit is ${maxBytes}`);
  }
  const where = target(s, input.subject);
  if (where.kind === "dead") return dead(where.reason, where.message);

  const read = readBody(input.payload);
  if (read.kind === "invalid") return dead(read.reason, read.message);
  const body = read.body;

  let tokens: string[];
  let parsed: { data: unknown; id?: string | undefined };
  if (where.kind === "users") {
    // User ids are checked before the schema so the reason can name the bad one.
    const userIds = "userIds" in body ? body.userIds : undefined;
    if (Array.isArray(userIds)) {
      for (const [index, userId] of userIds.entries()) {
        const problem = userIdProblem(userId);
        if (problem) return dead(DeadReason.InvalidUserId, `userIds[${index}] ${quote(userId)}: ${problem}`);
      }
    }
    const result = sendUsersBodySchema.safeParse(body);
    if (!result.success) return dead(DeadReason.InvalidMessage, describe(result.error.issues));
    parsed = result.data;
    tokens = [...new Set(result.data.userIds.map(userToken))];
  } else {
    const result = sendBodySchema.safeParse(body);
    if (!result.success) return dead(DeadReason.InvalidMessage, describe(result.error.issues));
    parsed = result.data;
    tokens = where.kind === "user" ? [where.token] : [];
  }
  let destinations: { subject: string; key: string }[];
  if (where.kind === "channel") {
    const group = retentionFor(groups, where.channel);
    destinations = [{ subject: s.channel(group.id, where.channel), key: `c/${where.channel}` }];
  } else if (where.kind === "broadcast") {
    const group = retentionFor(groups, BROADCAST_CHANNEL);
    destinations = [{ subject: s.channel(group.id, BROADCAST_TOKEN), key: "b" }];
  } else {
    destinations = tokens.map((token) => ({ subject: s.mailbox(token), key: token }));
  }

  let id = parsed.id;
  if (id === undefined && input.msgId !== undefined) {
    if (!messageIdSchema.safeParse(input.msgId).success) {
      return dead(DeadReason.InvalidMessage, `Nats-Msg-Id ${quote(input.msgId)} is not a valid message id`);
    }
    id = input.msgId;
  }
  return { kind: "route", target: where.kind, id, tokens, destinations, data: parsed.data };
}

function describe(issues: { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join(".") || "(body)"}: ${issue.message}`)
    .join("; ");
}
