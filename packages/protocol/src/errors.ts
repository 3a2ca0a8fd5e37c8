/** Stable machine-readable codes: they travel in error frames, dead-letter subjects and API replies. */
export const ErrorCode = {
  InvalidJson: "invalid_json",
  InvalidMessage: "invalid_message",
  MissingData: "missing_data",
  InvalidUserId: "invalid_user_id",
  InvalidChannel: "invalid_channel",
  TooLarge: "too_large",
  TooDeep: "too_deep",
  /** The user's mailbox holds `HERALD_MAX_BACKLOG` messages: refused until some expire. */
  MailboxFull: "mailbox_full",
  /** An API answer would not fit in one NATS message (`max_payload`): ask for less. */
  ReplyTooLarge: "reply_too_large",
  InvalidSubject: "invalid_subject",
  InvalidFrame: "invalid_frame",
  UnknownFrameType: "unknown_frame_type",
  UnknownMessageId: "unknown_id",
  InvalidRequest: "invalid_request",
  Unauthorized: "unauthorized",
  TokenExpired: "token_expired",
  /** The token is valid but does not allow this (a channel, another user's subscription token). */
  Forbidden: "forbidden",
  RateLimited: "rate_limited",
  TooManySubscriptions: "too_many_subscriptions",
  Internal: "internal",
  Unavailable: "unavailable",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error Herald raises on purpose: a stable `code` plus a message a human can act on. */
export class HeraldError extends Error {
  override name = "HeraldError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The `{code, message}` pair used in error frames and API error replies. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }

  /** Wraps anything thrown at a boundary so callers always get a code. */
  static fromUnknown(cause: unknown): HeraldError {
    if (cause instanceof HeraldError) return cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    return new HeraldError(ErrorCode.Internal, message, { cause });
  }
}

export class InvalidUserIdError extends HeraldError {
  override name = "InvalidUserIdError";
  constructor(message: string) {
    super(ErrorCode.InvalidUserId, message);
  }
}

export class InvalidChannelError extends HeraldError {
  override name = "InvalidChannelError";
  constructor(message: string) {
    super(ErrorCode.InvalidChannel, message);
  }
}

export class InvalidPrefixError extends HeraldError {
  override name = "InvalidPrefixError";
  constructor(message: string) {
    super(ErrorCode.InvalidSubject, message);
  }
}
