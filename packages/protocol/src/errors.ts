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
  /** Too many open connections from one client address. */
  TooManyConnections: "too_many_connections",
  /** The connector is accepting no more new connections this second. */
  TooManyNewConnections: "too_many_new_connections",
  /** An HTTP request to a path the connector does not serve. */
  NotFound: "not_found",
  /** A plain HTTP request to the WebSocket endpoint. */
  UpgradeRequired: "upgrade_required",
  Internal: "internal",
  Unavailable: "unavailable",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The HTTP status each code is answered with where it travels over HTTP (the connector's upgrade and routes).
 * Every code has one, so a new code cannot be sent with a status picked by hand.
 */
export const HttpStatus: { readonly [K in ErrorCode]: number } = {
  invalid_json: 400,
  invalid_message: 400,
  missing_data: 400,
  invalid_user_id: 400,
  invalid_channel: 400,
  too_large: 413,
  too_deep: 400,
  mailbox_full: 507,
  reply_too_large: 413,
  invalid_subject: 400,
  invalid_frame: 400,
  unknown_frame_type: 400,
  unknown_id: 400,
  invalid_request: 400,
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  rate_limited: 429,
  too_many_subscriptions: 429,
  too_many_connections: 429,
  too_many_new_connections: 503,
  not_found: 404,
  upgrade_required: 426,
  internal: 500,
  unavailable: 503,
};

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
