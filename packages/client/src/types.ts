import type { HeraldClientError } from "./errors.js";

export type ConnectionState = "connecting" | "connected" | "disconnected" | "closed";

/** What the server's `welcome` frame says about this connection. */
export interface ConnectedEvent {
  userId: string;
  deviceId: string;
  connectionId: string;
}

export interface DisconnectedEvent {
  /** The WebSocket close code (the server's, e.g. 4001; 1006 when the connection failed without one). */
  code: number;
  reason: string;
  willReconnect: boolean;
  /** When `willReconnect`: how long until the next attempt. */
  delayMs?: number;
}

export interface SubscribedEvent {
  channel: string;
  /** With `since`: whether everything after that offset could be delivered. */
  recovered: boolean;
}

/** The server ended a channel subscription; its handlers are dropped and it is not resubscribed. */
export interface UnsubscribedEvent {
  channel: string;
  /** Why, e.g. `forbidden` when a refreshed token no longer allows the channel. */
  code: string;
  message: string;
}

/**
 * Messages to this user were removed by the server's retention before this device acked them: those with `seq`
 * after `after` and before `before` (when given). How many is not known, and some in that range may have been
 * other users'. Comes before the first message after the gap; refetch from your backend what matters.
 */
export interface GapEvent {
  after: number;
  before?: number;
  /** Why: `retention` (kept for the server's retention period, unacked). */
  reason: string;
}

/** A message sent to this user. */
export interface HeraldMessage {
  id: string;
  /** Increases with each message to this user. */
  seq: number;
  data: unknown;
  /** When Herald accepted it, in milliseconds since the epoch. */
  ts: number;
  /**
   * Acknowledges the message so the server stops delivering it to this device. Called for you after the
   * handlers return when `autoAck` is on; calling it again does nothing.
   */
  ack(): void;
}

/** A message published to a channel this client subscribed to. Channel messages are not acked. */
export interface ChannelMessage {
  id: string;
  channel: string;
  offset: number;
  data: unknown;
  ts: number;
}

export type MessageHandler = (message: HeraldMessage) => void | Promise<void>;
export type ChannelHandler = (message: ChannelMessage) => void | Promise<void>;

export interface HeraldClientEvents {
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  message: HeraldMessage;
  error: HeraldClientError;
  subscribed: SubscribedEvent;
  unsubscribed: UnsubscribedEvent;
  gap: GapEvent;
  state: ConnectionState;
}
