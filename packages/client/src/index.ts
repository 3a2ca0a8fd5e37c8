export { type BackoffOptions, backoffCeiling, backoffDelay } from "./backoff.js";
export { BROADCAST } from "./broadcast.js";
export { HeraldClient } from "./client.js";
export {
  ClientErrorCode,
  ClosedError,
  ConnectionError,
  HandlerError,
  HeraldClientError,
  InvalidOptionsError,
  ListenerError,
  ProtocolError,
  ServerError,
  TokenError,
} from "./errors.js";
export { decodeJwtPayload, jwtExpiresAt } from "./jwt.js";
export {
  CloseCodes,
  DEFAULT_AUTH_CLOSE_CODES,
  DEFAULT_RECONNECT,
  DEFAULT_TERMINAL_CLOSE_CODES,
  type HeraldClientOptions,
  MAX_ACK_IDS,
  type ReconnectOptions,
  type TokenSource,
} from "./options.js";
export type { WebSocketConstructor, WebSocketLike } from "./socket.js";
export { type FetchLike, sseEndpoint } from "./sse-socket.js";
export type { TransportEvent, TransportKind, TransportOptions } from "./transport.js";
export { SSE_FALLBACK_AFTER } from "./transport.js";
export type {
  ChannelHandler,
  ChannelMessage,
  ConnectedEvent,
  ConnectionState,
  DisconnectedEvent,
  GapEvent,
  HeraldClientEvents,
  HeraldMessage,
  MessageHandler,
  SubscribedEvent,
  UnsubscribedEvent,
} from "./types.js";
