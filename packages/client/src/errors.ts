/** Stable machine-readable codes of the errors this SDK raises or emits. */
export const ClientErrorCode = {
  /** The options given to the constructor cannot work. */
  InvalidOptions: "invalid_options",
  /** The server sent an `error` frame; `serverCode` says which. */
  Server: "server",
  /** A `message` handler threw or rejected; the message was not acked and will come again. */
  Handler: "handler",
  /** A listener of another event threw. */
  Listener: "listener",
  /** The server sent something that is not a Herald frame. */
  Protocol: "protocol",
  /** The token callback threw or returned an empty token. */
  Token: "token",
  /** The WebSocket failed (network error, refused upgrade). */
  Connection: "connection",
  /** The client stopped for good: `close()` was called or the server closed with a terminal code. */
  Closed: "closed",
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Base of every error the SDK raises or emits: a stable `code` plus a message a human can act on. */
export class HeraldClientError extends Error {
  override name = "HeraldClientError";
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class InvalidOptionsError extends HeraldClientError {
  override name = "InvalidOptionsError";
  constructor(message: string) {
    super(ClientErrorCode.InvalidOptions, message);
  }
}

/** An `{"type":"error"}` frame from the server. */
export class ServerError extends HeraldClientError {
  override name = "ServerError";
  constructor(
    /** The server's code, e.g. `unknown_id` (see `ErrorCode` in `@herald/protocol`). */
    readonly serverCode: string,
    message: string,
    /** Message ids the error is about, when the server names them. */
    readonly ids: readonly string[] | undefined,
  ) {
    super(ClientErrorCode.Server, `${serverCode}: ${message}`);
  }
}

export class HandlerError extends HeraldClientError {
  override name = "HandlerError";
  constructor(
    /** The message whose handler failed; it stays unacked so the server delivers it again. */
    readonly messageId: string,
    cause: unknown,
  ) {
    super(ClientErrorCode.Handler, `message handler failed for ${messageId}: ${describe(cause)}`, { cause });
  }
}

export class ListenerError extends HeraldClientError {
  override name = "ListenerError";
  constructor(
    readonly event: string,
    cause: unknown,
  ) {
    super(ClientErrorCode.Listener, `"${event}" listener failed: ${describe(cause)}`, { cause });
  }
}

export class ProtocolError extends HeraldClientError {
  override name = "ProtocolError";
  constructor(message: string) {
    super(ClientErrorCode.Protocol, message);
  }
}

export class TokenError extends HeraldClientError {
  override name = "TokenError";
  constructor(message: string, cause?: unknown) {
    super(ClientErrorCode.Token, cause === undefined ? message : `${message}: ${describe(cause)}`, { cause });
  }
}

export class ConnectionError extends HeraldClientError {
  override name = "ConnectionError";
  constructor(message: string) {
    super(ClientErrorCode.Connection, message);
  }
}

export class ClosedError extends HeraldClientError {
  override name = "ClosedError";
  constructor(
    message: string,
    /** The close code that stopped the client, when the server sent one. */
    readonly closeCode?: number,
    readonly closeReason?: string,
  ) {
    super(ClientErrorCode.Closed, message);
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
